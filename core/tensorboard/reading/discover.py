"""Find the runs under a log root and the event files of each half (train, val) of a run.

A run is a folder with train/ (+ val/, validation/, test/, eval/ ...) halves, or otherwise a
folder that directly holds event files, as TensorBoard's own run discovery sees it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from core.tensorboard import tag_styles
from core.tensorboard.reading.names import printable

EVENT_FILE_PREFIX = "events.out.tfevents."
TRAIN_DIR = "train"
# Halves of one run written beside train/: tblab's val/, Keras' validation/, and the test/,
# eval/ ... folders hand-written loops use for their test-set writer.
VAL_DIRS = ("val", "validation", "valid", "test", "eval", "evaluation", "dev")


class LogError(Exception):
    """A log folder that cannot be read at all; the message is one line naming it."""


def find_runs(root: str | Path) -> list[Path]:
    """The runs under root, sorted: folders with train/ (+ val/ or validation/) halves,
    or otherwise folders that directly hold event files."""
    root = Path(root)
    require_folder(root)
    runs = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        if has_events(here / TRAIN_DIR):
            runs.append(here)
            halves = (TRAIN_DIR, *VAL_DIRS)
            subfolders[:] = [name for name in subfolders if name not in halves]
        elif any(name.startswith(EVENT_FILE_PREFIX) for name in files + subfolders):
            runs.append(here)  # a folder named like an event file too: it gets a warning, not silence
            subfolders[:] = [name for name in subfolders if not name.startswith(EVENT_FILE_PREFIX)]
        subfolders.sort()
    return sorted(runs)


def require_folder(folder: Path) -> None:
    """LogError (one line, the path made printable) unless folder is a folder that can be opened."""
    shown = printable(str(folder))
    try:
        exists, is_folder = folder.exists(), folder.is_dir()
    except OSError as error:  # a name too long, a permission denied on the way
        raise LogError(f"cannot open log folder {shown}: {error.strerror or error}") from None
    if not exists:
        raise LogError(f"no such log folder: {shown}")
    if not is_folder:
        raise LogError(f"not a folder (give the folder that holds the event files): {shown}")


def run_name(run: Path, root: Path) -> str:
    """A run's name: its path relative to the root, or the root's own name."""
    relative = run.relative_to(root).as_posix()
    return root.resolve().name if relative == "." else relative


def has_events(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(entry.name.startswith(EVENT_FILE_PREFIX) for entry in folder.iterdir())
    except OSError:  # unreadable folder: not a run we can read
        return False


def event_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    # Special files named like event files are kept: reading them gives a warning (core.tensorboard.records).
    files = [path for path in folder.iterdir() if path.name.startswith(EVENT_FILE_PREFIX)]
    return sorted(files, key=_file_order)


def _file_order(path: Path) -> tuple[int, str]:
    """Writers name files events.out.tfevents.<unix time>.<host>...: read older files first."""
    match = re.match(re.escape(EVENT_FILE_PREFIX) + r"(\d+)", path.name)
    return (int(match[1]) if match else 0, path.name)


def half_files(run_dir: Path) -> dict[str, list[Path]]:
    """Files of each half; event files directly in a split run's folder (e.g. hparams) join train."""
    own = event_files(run_dir)
    if not has_events(run_dir / TRAIN_DIR):
        return {tag_styles.TRAIN: own, tag_styles.VAL: []}
    val = [path for name in VAL_DIRS for path in event_files(run_dir / name)]
    return {tag_styles.TRAIN: own + event_files(run_dir / TRAIN_DIR), tag_styles.VAL: val}

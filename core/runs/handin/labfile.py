"""The lab's hand-in: before/after pairs of runs the learner chose (key h in the lab), kept
as JSON lines in LOG_ROOT/handin.jsonl, for `tblab report --from-lab`.

Log folders are stored relative to the log root when they are under it, so the file
names no machine path and survives the log root being moved."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

HANDIN_FILE = "handin.jsonl"


class HandinFileError(Exception):
    """The hand-in file cannot be read or written; the message is one line."""


@dataclass(frozen=True)
class LabRun:
    logdir: str
    fixes: tuple[str, ...] = ()
    test_accuracy: float = math.nan


@dataclass(frozen=True)
class LabPair:
    kind: str  # core.runs.handin.attempts.SCENARIO | SCRIPT
    path: str  # the scenario or script file
    name: str
    before: LabRun
    after: LabRun


def handin_path(log_root: str | Path) -> Path:
    return Path(log_root) / HANDIN_FILE


def _relative(logdir: str, log_root: Path) -> str:
    try:
        return str(Path(logdir).resolve().relative_to(log_root.resolve()))
    except ValueError:
        return logdir


def append_pair(log_root: str | Path, pair: LabPair) -> Path:
    """Add the pair to the hand-in (a later pair for the same file replaces it in the report)."""
    root = Path(log_root)
    data = asdict(pair)
    for side in ("before", "after"):
        data[side]["logdir"] = _relative(data[side]["logdir"], root)
        data[side]["fixes"] = list(data[side]["fixes"])
        accuracy = data[side]["test_accuracy"]
        data[side]["test_accuracy"] = None if accuracy is None or math.isnan(accuracy) else accuracy
    path = handin_path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(data) + "\n")
    except OSError as error:
        raise HandinFileError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def _run(data: dict, root: Path) -> LabRun:
    logdir = Path(data["logdir"])
    accuracy = data.get("test_accuracy")
    return LabRun(str(logdir if logdir.is_absolute() else root / logdir), tuple(data.get("fixes", ())),
                  math.nan if accuracy is None else float(accuracy))


def read_pairs(log_root: str | Path) -> list[LabPair]:
    """The pairs, the latest for each file, in the order first added. [] when there is no file."""
    root = Path(log_root)
    path = handin_path(root)
    if not path.is_file():
        return []
    pairs: dict[str, LabPair] = {}
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise HandinFileError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            pair = LabPair(data["kind"], data["path"], data["name"], _run(data["before"], root), _run(data["after"], root))
        except (ValueError, KeyError, TypeError) as error:
            raise HandinFileError(f"{path}, line {number}: not a hand-in pair ({error})") from None
        pairs[pair.path] = pair
    return list(pairs.values())


def add_lab_pair(log_root: str | Path, slot, before, after) -> Path:
    """The lab's key: `slot` (its .name, and .script.path or .scenario.path) with its previous
    and current runs (each with .logdir, .fixes, .test_accuracy, .active) appended as a pair.
    Raises HandinFileError, with what to do, when there is no finished pair to add."""
    if slot is None or before is None or after is None:
        raise HandinFileError("hand-in: run it, toggle a fix, run again; then h adds the two runs")
    if after.active or before.active:
        raise HandinFileError("hand-in: wait for the run to finish (or stop it with x)")
    if not (before.logdir and after.logdir):
        raise HandinFileError("hand-in: these runs wrote no event files")
    script = getattr(slot, "script", None)
    kind, path = ("script", str(script.path)) if script is not None else ("scenario", str(slot.scenario.path))
    runs = [LabRun(str(run.logdir), tuple(run.fixes), float(run.test_accuracy)) for run in (before, after)]
    return append_pair(log_root, LabPair(kind, path, slot.name, *runs))

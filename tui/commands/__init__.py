"""The `tblab` subcommands, one module each; shared argument checks live here.

Each check returns the one-line reason an argument is refused ("" when it is fine), so
every command refuses the same input with the same words, before TensorFlow is imported.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.system.names import printable

# Fixes that undo each other: asking for both is a mistake, not a combination.
CONFLICTING_FIXES = {frozenset({"lr_down", "lr_up"}): "lr_down divides the learning rate by 10 and lr_up multiplies it by 10"}


def count_problem(args, *names: str) -> str:
    """The one-line error for a count option (`--jobs`, `--steps`) below 1, or "" when each
    named option is unset or >= 1."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            return f"--{name} must be >= 1"
    return ""


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def capped_jobs(jobs: int) -> tuple[int, str]:
    """`jobs`, at most the core count, and the notice when it was cut ("" when not)."""
    limit = cores()
    if jobs <= limit:
        return jobs, ""
    return limit, f"--jobs {jobs} is more than the {limit} cores here; using {limit} (more would only queue on them)"


def fixes_problem(fixes: list[str] | tuple[str, ...]) -> str:
    """Why a set of --fix options is refused: two fixes that undo each other."""
    chosen = set(fixes)
    for pair, why in CONFLICTING_FIXES.items():
        if pair <= chosen:
            first, second = sorted(pair)
            return f"--fix {first} and --fix {second} conflict: {why}; pick one"
    return ""


def file_problem(path: Path, what: str = "script") -> str:
    """Why `path` cannot be read as a file: the exact reason (empty, missing, a folder, a
    device or FIFO, unreadable), or ""."""
    text = str(path)
    if text in ("", "."):
        return f"no {what} given (an empty path)"
    shown = printable(text)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{shown}: no such file"
    except NotADirectoryError:
        return f"{shown}: no such file (a part of the path is a file, not a folder)"
    except OSError as error:
        return f"{shown}: cannot read it: {error.strerror or error}"
    if stat.S_ISDIR(mode):
        return f"{shown} is a folder, not a {what} file"
    if not stat.S_ISREG(mode):
        kind = "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket"
        return f"{shown} is {kind}, not a {what} file"
    if not os.access(path, os.R_OK):
        return f"{shown}: cannot read it: permission denied"
    return ""


def folder_problem(path: Path, option: str) -> str:
    """Why `path` is not a folder to read from (`--scenarios DIR`), or ""."""
    if not path.exists():
        return f"{option} {printable(path)}: no such folder"
    if not path.is_dir():
        return f"{option} {printable(path)}: not a folder"
    return ""


def data_problem(data: str | None) -> str:
    """Why `--data` cannot be used, found by reading it now (before TensorFlow and before
    any child starts), or "" (also when no --data was given)."""
    if data is None:
        return ""
    from core.data.mnist import DataError, load_mnist

    try:
        load_mnist(data)
    except DataError as error:
        return f"--data: {printable(error)}"
    return ""

"""Run folders: logs/<scenario>/<time>-<fixes>/, claimed atomically, always inside the log
root, with a clear error when they cannot be written.

A scenario's name and a script's stem are untrusted: `../../X`, `/abs`, `..`, terminal
escapes and 300-byte names all become one safe component (core.system.names), and a
folder that would still resolve outside the root (a symlink in it) is refused."""

from __future__ import annotations

import errno
import itertools
import time
from pathlib import Path

from core.system.names import path_component


class RunError(Exception):
    """A run that cannot start; the message is one line for the user."""


class LogWriteError(RunError):
    """The log folder stopped taking writes (a full disk, a quota, a read-only remount);
    the message is one line for the user. Raised at the start, it is a run that cannot
    start; mid-run, the sink catches it, stops the run and keeps what was written."""

    @classmethod
    def of(cls, path: str | Path, error: BaseException) -> LogWriteError:
        """From an OSError or a TensorFlow error (ResourceExhaustedError: '...; No space left on device')."""
        reason = getattr(error, "strerror", None) or str(getattr(error, "message", "") or error).rsplit("; ", 1)[-1]
        full = "No space left" in reason or "quota" in reason.lower()
        return cls(f"{'the disk is full: ' if full else ''}cannot write {path}: {reason.strip()}")


def run_logdir(root: str | Path, scenario: str, fixes: list[str] | tuple[str, ...] = ()) -> Path:
    """A fresh folder like logs/fail2/20261127-141502-activation+init, created (claimed) here;
    RunError if the scenario's folder leads outside `root` (a symlink)."""
    label = path_component("+".join(sorted(fixes)) or "as-is")
    folder = Path(root) / path_component(scenario)
    inside_root(root, folder)
    return claim_fresh_folder(folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}")


def inside_root(root: str | Path, path: str | Path) -> Path:
    """`path`, once it is known to resolve inside `root`; RunError otherwise."""
    resolved_root, resolved = Path(root).resolve(), Path(path).resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise RunError(f"refusing to write to {path}: it leads outside the log root {root} (to {resolved})")
    return Path(path)


def claim_fresh_folder(base: Path) -> Path:
    """`base`, or base-2, base-3, ... : the first that this call creates itself.

    mkdir without exist_ok is the atomic claim: runs started in the same second (a parallel
    sweep, `tblab run` three times from a shell) each get their own folder, never a shared
    one with mixed event files. A folder that cannot be created is returned as is, and
    prepare_logdir reports why when the run starts.
    """
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return base
    for n in itertools.count(1):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError:
            return candidate


def prepare_logdir(logdir: str | Path) -> Path:
    """Create the folder (if not claimed yet) and prove it is writable, before any training starts."""
    path = Path(logdir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".tblab-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise RunError(f"cannot write logs to {path}: {write_problem(path, error)}") from None
    return path


def write_problem(path: Path, error: OSError) -> str:
    """Why `path` cannot take a log folder, in the words of what is actually there: the
    errno of a failed mkdir or probe says "No such file" for /proc (which exists but takes
    no new files) and "File exists" for /dev/null (which is not a folder)."""
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return f"{blocker} is not a folder" if blocker == path else f"{blocker} is a file, not a folder"
    if blocker is not None and error.errno == errno.ENOENT:  # it exists, yet creating in it says "no such file"
        return f"{blocker} takes no new files (a virtual file system such as /proc)"
    return error.strerror or str(error)

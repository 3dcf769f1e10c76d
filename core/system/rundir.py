"""Run folders: logs/<scenario>/<time>-<fixes>/ with a clear error when they cannot be written."""

from __future__ import annotations

import time
from pathlib import Path


class RunError(Exception):
    """A run that cannot start; the message is one line for the user."""


def run_logdir(root: str | Path, scenario: str, fixes: list[str] | tuple[str, ...] = ()) -> Path:
    """A fresh folder name like logs/fail2/20261127-141502-activation+init (not yet created)."""
    label = "+".join(sorted(fixes)) or "as-is"
    base = Path(root) / scenario / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"
    candidate, n = base, 1
    while candidate.exists():  # two runs in the same second (a parallel sweep) get -2, -3, ...
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def prepare_logdir(logdir: str | Path) -> Path:
    """Create the folder and prove it is writable, before any training starts."""
    path = Path(logdir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".tblab-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise RunError(f"cannot write logs to {path}: {error.strerror or error}") from None
    return path

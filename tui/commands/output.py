"""--out files of the commands that run for minutes: checked before the runs start, and a
finished result never lost to a bad path (it goes to a fallback file instead)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def out_problem(path: Path) -> str:
    """Why `path` cannot be written ("" when it can), before any run starts."""
    if path.is_dir():
        return f"--out {path} is a folder; give a file name"
    return writable_problem(path, path.parent)


def writable_problem(path: Path, folder: Path) -> str:
    """Why `--out path` cannot be made under `folder` ("" when it can): the nearest part of
    `folder` that exists must be a writable folder."""
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                return f"--out {path}: {part} is a file, not a folder"
            if not os.access(part, os.W_OK | os.X_OK):
                return f"--out {path}: {part} is not writable"
            return ""
    return ""


def write_out(path: Path, text: str, fallback_dir: Path) -> Path | None:
    """Write text to path (creating its folder); on failure, to a fallback file in
    fallback_dir, saying so on stderr. The path written, or None if both failed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path
    except OSError as error:
        print(f"tblab: cannot write {path}: {error.strerror or error}", file=sys.stderr)
    fallback = fallback_dir / f"{path.stem or 'out'}-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix or '.md'}"
    try:
        fallback.parent.mkdir(parents=True, exist_ok=True)
        fallback.write_text(text)
        print(f"tblab: written to {fallback} instead", file=sys.stderr)
        return fallback
    except OSError as error:
        print(f"tblab: cannot write {fallback} either: {error.strerror or error}", file=sys.stderr)
        return None

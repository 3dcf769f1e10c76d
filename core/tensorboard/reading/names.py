"""Names that come from a log (folder names, tags, text) made safe to print: control
characters (terminal escapes) removed, over-long names shortened. A log is untrusted input."""

from __future__ import annotations

import re

MAX_NAME = 200  # characters shown of one name; the rest is elided
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def printable(name: str, limit: int = MAX_NAME) -> str:
    """name without control characters, cut to `limit` characters with an ellipsis."""
    if not name.isprintable():
        name = _CONTROL.sub("", name)
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(printable(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return printable(text.splitlines()[0]) if text else type(error).__name__

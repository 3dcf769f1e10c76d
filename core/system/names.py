"""Names from untrusted input (a scenario's name, a script's stem, a run folder read from a
log root) made safe for the two places they go: a path component and a terminal line.

- `path_component` turns any name into one folder name: no separator, no `..`, no control
  character, at most MAX_COMPONENT_BYTES of UTF-8 (leaving room for the `-2` suffix a
  claimed folder may get), never empty. Unicode letters are kept.
- `printable` strips control characters (terminal escapes such as `\\e[2J`, bells, carriage
  returns) from text about to be printed.
"""

from __future__ import annotations

import re
import unicodedata

NAME_MAX_BYTES = 255  # the usual file-system limit for one path component
MAX_COMPONENT_BYTES = 200  # one component's share, with room for suffixes (-activation+init-12)
SEPARATORS = re.compile(r"[/\\]+")


def _is_control(char: str) -> bool:
    # Cc: C0/C1 controls (ESC, BEL, CR, NUL...); Cf: invisible format characters (bidi overrides).
    return unicodedata.category(char) in ("Cc", "Cf")


def printable(text: object, keep_newlines: bool = False) -> str:
    """`text` with every control character removed (a newline kept only with `keep_newlines`)."""
    return "".join(c for c in str(text) if not _is_control(c) or (keep_newlines and c == "\n"))


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `max_bytes` (never half a character)."""
    return text.encode("utf-8", "surrogateescape")[:max_bytes].decode("utf-8", "ignore")


def path_component(name: str, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """`name` as one safe folder name: separators become `_`, control characters go, leading
    dots become `_` (so `..`, `.` and hidden names cannot be made), over-long names are cut."""
    text = SEPARATORS.sub("_", printable(name)).strip()
    stripped = text.lstrip(".")
    text = "_" * (len(text) - len(stripped)) + stripped
    text = truncate_utf8(text, max_bytes).rstrip()
    return text or "_"

"""Names from untrusted input (a scenario's name, a script's stem, a run folder read from a
log root, a watched script's variable names) made safe for the places they go: a path
component, a terminal line and an event tag.

- `path_component` turns any name into one folder name: no separator, no `..`, no control
  character, at most MAX_COMPONENT_BYTES of UTF-8 (leaving room for the `-2` suffix a
  claimed folder may get), never empty. Unicode letters are kept.
- `printable` strips control characters (terminal escapes such as `\\e[2J`, bells, carriage
  returns) from text about to be printed.
- `tag_component` turns a script's variable name into one tag component (`grad_norm/<it>/kernel`).
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


TAG_COMPONENT_MAX = 40  # characters of a script's variable name kept in a tag (w0, weights_16, hidden_layer_2)
_NOT_TAG_CHARACTERS = re.compile(r"[^A-Za-z0-9_]+")


def tag_component(name: object, max_chars: int = TAG_COMPONENT_MAX) -> str:
    """`name` as one component of an event tag, or '' when nothing usable is left: ASCII
    letters, digits and `_` only (any other run of characters becomes one `_`, so
    `weights[0]` -> `weights_0`; tag readers split on `/`, drop `:0` and `]`, and fold
    unicode), no leading or trailing `_`, starting with a letter, at most `max_chars`."""
    text = _NOT_TAG_CHARACTERS.sub("_", str(name)).strip("_")[:max_chars].rstrip("_")
    return text if text[:1].isalpha() else ""

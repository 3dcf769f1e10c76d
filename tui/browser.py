"""Open a URL in a graphical browser, and only a graphical one.

From a terminal with no display, Python's webbrowser falls back to console
browsers (lynx, w3m) that would take over the lab's terminal; then the URL is
only shown, for the user to open.
"""

from __future__ import annotations

import os
import sys
import webbrowser

CONSOLE_BROWSERS = ("lynx", "w3m", "links", "elinks", "www-browser", "browsh")


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_browser(url: str) -> bool:
    """True if a graphical browser was asked to open url."""
    if not has_display():
        return False
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if getattr(browser, "name", "") in CONSOLE_BROWSERS:
        return False
    try:
        return bool(browser.open(url, new=2))
    except Exception:  # a broken browser set-up must not break the lab
        return False

"""Keep TensorFlow's C++ log lines off the lab's screen.

TensorFlow writes to file descriptor 2 from C++ (on import and on the first op),
and TF_CPP_MIN_LOG_LEVEL does not silence all of it. Textual draws the screen on
sys.__stderr__, which is also file descriptor 2. So while the lab runs, fd 2 is
pointed at a log file, and Python's stderr objects at a duplicate of the
terminal: Textual (and Python tracebacks) still reach the screen, C and C++
writes go to the file.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def stderr_fd_to_file(log_path: str | Path):
    """Point fd 2 at log_path (appending) and sys.stderr/sys.__stderr__ at the terminal."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stderr, sys.__stderr__):
        if stream is not None:
            stream.flush()
    terminal_fd = os.dup(2)
    terminal = os.fdopen(
        terminal_fd, "w", encoding=getattr(sys.__stderr__, "encoding", None) or "utf-8",
        errors="backslashreplace", buffering=1,
    )
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    saved = sys.stderr, sys.__stderr__
    sys.stderr = sys.__stderr__ = terminal  # Textual's driver writes to sys.__stderr__ when it starts
    try:
        yield terminal
    finally:
        sys.stderr, sys.__stderr__ = saved
        terminal.flush()
        os.dup2(terminal.fileno(), 2)
        terminal.close()

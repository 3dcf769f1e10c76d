"""BoardKeeper: the lab's one TensorBoard, started on a worker thread and stopped when the lab quits.

`start()` runs on a thread worker and returns the message for the app to post; `close()`
runs on the UI thread, and a board that finishes starting after it is stopped at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tui.browser import open_in_browser
from tui.messages import BoardFailed, BoardStarted


class BoardKeeper:
    def __init__(self, log_root: Path) -> None:
        self.log_root = log_root
        self.board = None  # core.tensorboard.board.Board once started
        self.url = ""  # "starting…", then the board's URL
        self._closed = threading.Event()
        self._lock = threading.Lock()  # the board is set on a worker thread and stopped on the UI thread

    def start(self) -> BoardStarted | BoardFailed | None:
        """Start TensorBoard on the log root (blocks: call it on a worker thread)."""
        try:
            from core.tensorboard.board import start_board

            self.log_root.mkdir(parents=True, exist_ok=True)
            board = start_board(self.log_root)
        except Exception as error:
            return BoardFailed(f"{type(error).__name__}: {error}".splitlines()[0])
        with self._lock:
            if self._closed.is_set():  # the lab quit while TensorBoard was starting
                board.stop()
                return None
            self.board = board
        return BoardStarted(board.url, open_in_browser(board.url))

    def close(self) -> None:
        """Stop TensorBoard, now or as soon as it has started. Safe to call more than once."""
        with self._lock:
            self._closed.set()
            board, self.board = self.board, None
        if board is not None:
            board.stop()

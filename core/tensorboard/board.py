"""TensorBoard as a child process on the loopback interface, started and stopped cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0


class BoardError(Exception):
    """TensorBoard could not start; the message is one line for the user."""


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Board:
    url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        """Stop TensorBoard and its children (the data server) as one process group."""
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start_board(logdir: str | Path, port: int | None = None, host: str = LOOPBACK, wait: bool = True) -> Board:
    """Start TensorBoard for `logdir`; with `wait`, return once it answers HTTP."""
    logdir = Path(logdir)
    if not logdir.is_dir():
        raise BoardError(f"no log folder {logdir}")
    if port is None:
        port = free_port(host)
    elif not port_is_free(host, port):
        raise BoardError(f"port {port} on {host} is busy; pick another with --port or leave it out for a free one")
    log_file = tempfile.NamedTemporaryFile(prefix="tblab-tensorboard-", suffix=".log", delete=False)
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", host, "--port", str(port)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, env=env,
    )
    board = Board(f"http://{host}:{port}/", process, Path(log_file.name))
    if wait:
        _wait_until_up(board)
    return board


def _wait_until_up(board: Board) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if board.process.poll() is not None:
            tail = board.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise BoardError(f"TensorBoard exited: {tail[0]}")
        try:
            with urllib.request.urlopen(board.url + "data/runs", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    board.stop()
    raise BoardError(f"TensorBoard did not answer within {START_TIMEOUT_S:.0f} s (log: {board.log_path})")

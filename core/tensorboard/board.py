"""TensorBoard as an owned child process on the loopback interface, started and stopped cleanly.

The child is started through core.system.children: its own process group (TensorBoard and
its data server stop together), and it dies with us even if we are killed. Its output goes
to an unnamed temporary file, so nothing is left in /tmp once it stops.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from core.system import children

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
MAX_PORT = 65535


class BoardError(Exception):
    """TensorBoard could not start; the message is one line for the user."""


def check_address(host: str, port: int | None) -> None:
    """A one-line BoardError for a port outside 1..65535 or a host that is not an IPv4 address."""
    if port is not None and not (1 <= port <= MAX_PORT):
        raise BoardError(f"port {port} is not a TCP port: use 1 to {MAX_PORT}, or leave --port out for a free one")
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise BoardError(f"host {host!r} is not an IP address: use 127.0.0.1 (this machine only) or another IPv4 address") from None
    if address.version != 4:
        raise BoardError(f"host {host}: only IPv4 addresses are supported (use 127.0.0.1 for this machine only)")


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def bind_problem(host: str, port: int) -> str:
    """Why (host, port) cannot be bound ("" when it can): busy, or an address not on this machine."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == 98:  # EADDRINUSE
                return f"port {port} on {host} is busy; pick another with --port or leave it out for a free one"
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return ""


@dataclass
class Board:
    url: str
    process: subprocess.Popen
    log: BinaryIO = field(repr=False)  # TensorBoard's output, an unnamed (already deleted) file

    def stop(self) -> None:
        """Stop TensorBoard and its data server (one process group); safe to call twice."""
        children.stop(self.process)
        if not self.log.closed:
            self.log.close()

    def output_tail(self) -> str:
        """The last line TensorBoard printed ("no output" if none)."""
        self.log.flush()
        self.log.seek(0)
        lines = self.log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"


def start_board(logdir: str | Path, port: int | None = None, host: str = LOOPBACK, wait: bool = True) -> Board:
    """Start TensorBoard for `logdir`; with `wait`, return once it answers HTTP."""
    logdir = Path(logdir)
    check_address(host, port)
    if not logdir.is_dir():
        raise BoardError(f"no log folder {logdir}")
    if port is None:
        try:
            port = free_port(host)
        except OSError as error:
            raise BoardError(f"cannot listen on {host}: {error.strerror or error}") from None
    elif problem := bind_problem(host, port):
        raise BoardError(problem)
    log = tempfile.TemporaryFile(prefix="tblab-tensorboard-")  # noqa: SIM115 - lives as long as the board; closed by stop()
    command = ["-m", "tensorboard.main", "--logdir", str(logdir), "--host", host, "--port", str(port)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = children.spawn_python(command, env, stop_leftovers=False, stdout=log, stderr=subprocess.STDOUT)
    board = Board(f"http://{host}:{port}/", process, log)
    if wait:
        _wait_until_up(board)
    return board


def _wait_until_up(board: Board) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if board.process.poll() is not None:
            tail = board.output_tail()
            board.stop()
            raise BoardError(f"TensorBoard exited: {tail}")
        try:
            with urllib.request.urlopen(board.url + "data/runs", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    tail = board.output_tail()
    board.stop()
    raise BoardError(f"TensorBoard did not answer within {START_TIMEOUT_S:.0f} s (last output: {tail})")

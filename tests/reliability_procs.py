"""Process helpers for the reliability tests and bench/reliability_table.py: starting tblab,
waiting for its output, a process's descendants, and whether any is left."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A one-layer scenario file for runs that are stopped by a signal; format it with `steps`.
TINY = """
from core.schema.config import RunConfig
from core.schema.scenario import Scenario
SCENARIO = Scenario(name="tiny", title="tiny", symptom="s", diagnosis="d",
                    config=RunConfig(hidden_layers=1, hidden_units=8, steps={steps}, histogram_every=100, image_every=1000))
"""


def start_cli(*args: str, env: dict[str, str], group: bool = False) -> subprocess.Popen:
    """`tblab ARGS` in a child with piped text output (its own session with `group`)."""
    return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=group)


def first_matching_line(process: subprocess.Popen, pattern: str, timeout: float) -> str | None:
    """The first stdout line matching `pattern`, or None if none came within `timeout` seconds
    (or the process ended first): a reader thread, so a silent process cannot hang the caller."""
    found: list[str] = []

    def read() -> None:
        for line in process.stdout:
            if re.search(pattern, line):
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else None


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a live process; None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0]


def descendants(pid: int) -> set[int]:
    """Every process below pid (children, grandchildren, ...), now."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append(int(entry))
    found, frontier = set(), [pid]
    while frontier:
        for child in parents.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"  # a zombie has exited; only its parent's wait is missing


def left_after(pids: set[int], timeout: float = 10.0) -> set[int]:
    """The pids still alive once they had `timeout` seconds to go."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid for pid in pids if alive(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> set[int]:
    """The direct children of pid, now."""
    return {child for child in descendants(pid) if (stat := _stat(child)) is not None and stat[0] == pid}

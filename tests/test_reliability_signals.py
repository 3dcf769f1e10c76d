"""SIGINT / SIGTERM / SIGHUP / SIGKILL to `tblab board`, `tblab run`, `tblab sweep` and the lab:
no process left behind, ports freed, event files readable, the terminal restored; and runs
started together each get their own folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from core.system.rundir import claim_fresh_folder
from core.tensorboard.reader import read_run
from tests.helpers import tmux, wait_for_screen
from tests.reliability_procs import (
    ROOT,
    TINY,
    children_of,
    descendants,
    first_matching_line,
    free_port,
    left_after,
    port_open,
    start_cli,
)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TBLAB_NO_DOWNLOAD": "1", "PYTHONUNBUFFERED": "1"}


def start(*args: str, group: bool = False) -> subprocess.Popen:
    return start_cli(*args, env=ENV, group=group)


def wait_for_line(process: subprocess.Popen, pattern: str, timeout: float = 120) -> str:
    """Read stdout until a line matches (the test fails, not hangs, if the process ends first)."""
    found = first_matching_line(process, pattern, timeout)
    assert found, f"{pattern!r} never printed (exit {process.poll()}): {process.stderr.read() if process.poll() is not None else ''}"
    return found


def test_board_stops_tensorboard_on_sigint_sigterm_sighup_and_its_own_death(tmp_path):
    boards = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
        port = free_port()
        boards[sig] = (start("board", "--logdir", str(tmp_path), "--port", str(port)), port)
    children = {}
    for sig, (process, port) in boards.items():
        wait_for_line(process, r"TensorBoard for .* at http")
        children[sig] = descendants(process.pid)
        assert children[sig] and port_open(port)
    for sig, (process, _) in boards.items():
        process.send_signal(sig)
    for sig, (process, port) in boards.items():
        code = process.wait(30)
        assert code == (-9 if sig == signal.SIGKILL else 128 + sig), (sig, code, process.stderr.read())
        assert left_after(children[sig]) == set(), f"{sig.name}: TensorBoard left running"
        assert not port_open(port), f"{sig.name}: port {port} still listening"
    assert "Traceback" not in "".join(p.stderr.read() for p, _ in boards.values())


def test_runs_started_together_get_own_folders_and_close_readable_files_on_any_signal(tmp_path):
    """Three runs of one scenario into one log root, started in the same second (they used to
    share a folder: mixed event files), then stopped by SIGINT, SIGTERM and SIGHUP."""
    (tmp_path / "tiny.py").write_text(TINY.format(steps=1_000_000))
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    runs = {sig: start("run", str(tmp_path / "tiny.py"), "--logdir", str(tmp_path / "logs")) for sig in signals}
    for sig, process in runs.items():
        wait_for_line(process, r"^step 200:")
        process.send_signal(sig)
    for sig, process in runs.items():
        assert process.wait(30) == 128 + sig
        stderr = process.stderr.read()
        assert "closed and readable" in stderr and "Traceback" not in stderr, stderr
    folders = sorted((tmp_path / "logs" / "tiny").iterdir())
    assert len(folders) == 3
    for folder in folders:
        assert len(list((folder / "train").glob("events.out.tfevents.*"))) == 1
        history = read_run(folder)
        assert len(history.series("loss")) >= 200 and history.warnings == [], history.warnings


@pytest.mark.quiet  # a wall-clock bound: the other test worker waits
def test_sweep_stops_within_seconds_of_ctrl_c_and_writes_what_finished(tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "tiny.py").write_text(TINY.format(steps=2000))
    out = tmp_path / "sweep.md"
    process = start("sweep", "--jobs", "2", "--scenarios", str(scenarios), "--logdir", str(tmp_path / "logs"),
                    "--out", str(out), group=True)
    wait_for_line(process, r"test accuracy")  # the first run finished
    workers = descendants(process.pid)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
    interrupted = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    stopped_after = time.monotonic() - interrupted
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "tblab: interrupted" in stderr
    assert left_after(workers) == set()
    table = out.read_text()
    finished = [line for line in table.splitlines() if line.startswith("| tiny") and "stopped" not in line]
    stopped = [line for line in table.splitlines() if line.startswith("| tiny") and "stopped" in line]
    assert finished and stopped, table  # the finished rows kept; the rest never started or was stopped
    assert stopped_after < 15, stopped_after  # was ~40 s of new runs, then a hang


def test_folder_claims_are_exclusive_across_threads(tmp_path):
    base = tmp_path / "scenario" / "20260101-000000-as-is"
    claimed: list[Path] = []
    threads = [threading.Thread(target=lambda: claimed.append(claim_fresh_folder(base))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(claimed)) == 16 and all(path.is_dir() for path in claimed)




@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_lab_on_sigterm_restores_the_terminal_and_stops_tensorboard(tmp_path):
    session = f"tblab-rel-{uuid.uuid4().hex[:8]}"
    command = (f"cd {ROOT} && env -u LINES -u COLUMNS TBLAB_NO_DOWNLOAD=1 {sys.executable} -m tui.cli "
               f"--logdir {tmp_path / 'logs'}; echo LAB-EXITED $?; sleep 60")
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "34", command)
    try:
        wait_for_screen(session, r"space Start", timeout=180)
        tmux("send-keys", "-t", session, "t")
        wait_for_screen(session, r"TensorBoard http://127\.0\.0\.1:\d+", timeout=180)
        (shell,) = [int(tmux("display", "-p", "-t", session, "#{pane_pid}").strip())]
        below = descendants(shell)
        (lab,) = children_of(shell)  # the lab; below it, TensorBoard and its data server
        assert len(below) >= 2
        assert tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "1"
        os.kill(lab, signal.SIGTERM)
        wait_for_screen(session, r"LAB-EXITED \d+", timeout=60)
        screen = tmux("capture-pane", "-p", "-t", session)
        assert "LAB-EXITED 143" in screen, screen
        flags = tmux("display", "-p", "-t", session, "#{alternate_on} #{mouse_any_flag} #{mouse_button_flag}").split()
        assert flags == ["0", "0", "0"], flags  # main screen back, mouse tracking off
        assert left_after(below) == set()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)

"""Hostile scripts under `tblab watch`, hostile working folders under `watch` and `board`:
nothing is imported from the working folder, nothing the script leaves behind outlives it
or keeps tblab waiting, stdin and arguments reach the script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.runs.watch import Ended, Output, WatchedScript, WatchRequest
from tests.reliability_procs import descendants, left_after
from tests.reliability_scripts import write_script

TBLAB = str(Path(sys.executable).parent / "tblab")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TBLAB_NO_DOWNLOAD": "1"}
# A module that shadows numpy from the working folder: it leaves a mark if it ever runs.
SHADOW = "import pathlib\npathlib.Path(__file__).with_name('SHADOW_RAN').write_text('ran')\nraise SystemExit('shadow numpy ran')\n"


def tblab(*args: str, cwd: Path, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([TBLAB, *args], cwd=cwd, env=ENV, input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False)


def events_of(script: Path, *args: str) -> tuple[list, WatchedScript, set[int]]:
    """Every event of one watched run, the run, and the script's processes (it and all it
    started) seen while it ran."""
    run = WatchedScript(WatchRequest(script, args=args))
    events, seen = [], set()
    for event in run.start():
        events.append(event)
        if run.process.poll() is None:
            seen |= {run.process.pid} | descendants(run.process.pid)
    return events, run, seen


def test_watch_never_imports_from_the_working_folder(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "numpy.py").write_text(SHADOW)
    script = write_script(tmp_path, "arguments")
    done = tblab("watch", str(script), "--logdir", str(tmp_path / "logs"), cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert not (cwd / "SHADOW_RAN").exists()
    assert "finished" in done.stdout


def test_a_grandchild_holding_the_pipes_neither_outlives_nor_holds_up_the_script(tmp_path):
    for name in ("fork", "sleeper", "server"):
        started = time.monotonic()
        events, run, seen = events_of(write_script(tmp_path, name))
        took = time.monotonic() - started
        assert isinstance(events[-1], Ended) and events[-1].reason == "finished", (name, events[-1])
        assert took < 45, f"{name}: watch waited {took:.0f} s for the script's leftovers"
        assert len(seen) >= 2 and not left_after(seen), f"{name}: processes left"


def test_piped_stdin_and_arguments_reach_the_script(tmp_path):
    script = write_script(tmp_path, "stdin")
    done = tblab("watch", str(script), "--logdir", str(tmp_path / "logs"), cwd=tmp_path, stdin="hello there\n")
    assert "read: hello there" in done.stdout, done.stdout + done.stderr
    events, _, _ = events_of(write_script(tmp_path, "arguments"), "a", "--b")
    assert any(isinstance(e, Output) and e.text == "argv: ['a', '--b']" for e in events)


def test_a_script_that_never_trains_is_stopped_after_the_idle_timeout(tmp_path):
    from core.runs.watch_headless import watch

    said: list[str] = []
    started = time.monotonic()
    outcome = watch(WatchRequest(write_script(tmp_path, "never_trains")), tmp_path / "logs", say=said.append, idle_timeout=2)
    assert time.monotonic() - started < 40
    assert outcome.reason == "idle" and outcome.steps_done == 0 and "--idle-timeout" in outcome.message
    assert any(line.startswith("tblab: no training step for 2 s (--idle-timeout 2)") for line in said), said
    done = tblab("watch", str(write_script(tmp_path, "never_trains")), "--idle-timeout", "2", "--logdir",
                 str(tmp_path / "logs"), cwd=tmp_path)
    assert done.returncode == 1 and "no training step for 2 s" in done.stdout, done.stdout + done.stderr
    assert "0 steps (idle)" in done.stdout
    leftover = subprocess.run(["pgrep", "-f", "never_trains.py"], capture_output=True, text=True, check=False)
    assert not leftover.stdout.strip()  # the stopped script left nothing running


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_tblab_watch_stops_the_script_and_everything_it_started(tmp_path, sig):
    from tests.reliability_procs import first_matching_line

    script = write_script(tmp_path, "serves_and_trains")
    process = subprocess.Popen([TBLAB, "watch", str(script), "--logdir", str(tmp_path / "logs")], cwd=tmp_path, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first_matching_line(process, r"^step 100:", 180), process.stderr.read() if process.poll() is not None else ""
    started = descendants(process.pid)
    assert len(started) >= 3  # the script, its server and its sleeper (and the guard's exec'd python)
    process.send_signal(sig)
    assert process.wait(60) == 128 + sig
    assert not left_after(started), f"left after {signal.Signals(sig).name}"


def test_steps_that_cannot_be_recorded_are_counted_and_reported(tmp_path):
    import json

    done = tblab("watch", str(write_script(tmp_path, "two_models")), "--json", "--logdir", str(tmp_path / "logs"), cwd=tmp_path)
    outcome = json.loads(done.stdout)
    assert outcome["reason"] == "finished" and outcome["steps_done"] == 20
    # Two models trained in turn: the first is recorded, the other's 10 steps are counted, with one notice.
    assert outcome["unrecorded"] == 10 and "10 of 20 steps trained another model than the first" in outcome["message"]
    assert sum("trains more than one model: tblab records the first (A_0, A_2)" in line for line in done.stderr.splitlines()) == 1
    assert "could not record a step" not in done.stderr  # nothing failed: no model's values mixed into another's
    from core.tensorboard.reader import read_run

    recorded = read_run(Path(outcome["logdir"]))
    assert recorded.series("loss").steps == list(range(0, 20, 2)) and recorded.layers() == ["A_0", "A_2"]
    done = tblab("watch", str(write_script(tmp_path, "two_models")), "--logdir", str(tmp_path / "logs"), cwd=tmp_path)
    assert f"20 steps (finished with {outcome['unrecorded']} steps unrecorded)" in done.stdout, done.stdout


def test_a_loop_under_a_mirrored_strategy_on_cpu_is_recorded(tmp_path):
    """strategy.run calls the step on a replica thread: its first replica is the training step."""
    import json

    from core.tensorboard.reader import read_run

    done = tblab("watch", str(write_script(tmp_path, "strategy")), "--json", "--logdir", str(tmp_path / "logs"), cwd=tmp_path)
    outcome = json.loads(done.stdout)
    assert outcome["reason"] == "finished" and outcome["steps_done"] == 6 and not outcome["unrecorded"], outcome["message"]
    assert "without a training step" not in outcome["message"]
    recorded = read_run(Path(outcome["logdir"]))
    assert recorded.series("loss").steps == list(range(6)) and recorded.layers() == ["w0", "wout"]
    assert abs(recorded.series("loss").values[0] - 2.3) < 0.3 and recorded.series("grad_norm/w0/kernel").values[0] > 0

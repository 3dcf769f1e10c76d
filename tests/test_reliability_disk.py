"""A disk that fills mid-run: `tblab run` and `tblab watch` stop with one clear line, keep
every step written before, and still print their summary (never a ResourceExhaustedError
traceback). Runs on a small tmpfs; skipped where mounting one is not allowed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.tensorboard.reader import read_run
from tests.reliability_procs import ROOT, TINY
from tests.reliability_scripts import SCRIPTS

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TBLAB_NO_DOWNLOAD": "1"}


@pytest.fixture
def small_disk(tmp_path):
    """A 128 KiB tmpfs, unmounted afterwards."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def tblab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=300, check=False)


def check_stopped_cleanly(done: subprocess.CompletedProcess, logdir: Path, summary: str) -> None:
    text = done.stdout + done.stderr
    assert "Traceback" not in text and "ResourceExhaustedError" not in text, text
    assert done.returncode == 1, text
    assert [line for line in text.splitlines() if "the disk is full" in line][0].startswith("tblab: the disk is full")
    assert sum("the disk is full" in line for line in text.splitlines()) == 1, text
    assert summary in done.stdout, done.stdout
    steps = read_run(logdir).series("loss").steps
    assert len(steps) > 10 and steps == list(range(len(steps)))  # every step written before is kept, in order


def test_a_full_disk_stops_tblab_run_with_one_line_and_a_summary(small_disk, tmp_path):
    scenario = tmp_path / "long.py"
    scenario.write_text(TINY.format(steps=20000))
    done = tblab("run", str(scenario), "--logdir", str(small_disk / "logs"))
    (logdir,) = (small_disk / "logs" / "tiny").iterdir()
    check_stopped_cleanly(done, logdir, "test accuracy")


def test_a_full_disk_stops_tblab_watch_with_one_line_and_a_summary(small_disk, tmp_path):
    script = tmp_path / "long_script.py"
    script.write_text(SCRIPTS["arguments"].replace("STEPS = 5", "STEPS = 20000"))
    done = tblab("watch", str(script), "--logdir", str(small_disk / "logs"))
    (logdir,) = (small_disk / "logs" / "long_script").iterdir()
    check_stopped_cleanly(done, logdir, "steps (stopped)")

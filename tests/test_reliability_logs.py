"""Damaged logs never crash or hide anything: a generated corpus of truncations, bit flips,
huge record lengths with valid CRCs (which crash TensorFlow's reader), special files and
empty files, each beside healthy runs, through `tblab diagnose ROOT` in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs.recipe import record_run
from core.schema.config import RunConfig
from core.tensorboard import records
from core.tensorboard.reader import read_run
from tests.helpers import tiny_mnist
from tests.reliability_corpus import build_corpus, frame

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TBLAB_NO_DOWNLOAD": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("corpus")
    healthy = base / "healthy-source"
    record_run(RunConfig(hidden_units=8, steps=20, eval_every=5, histogram_every=5), data=tiny_mnist(), logdir=healthy)
    root = base / "root"
    runs = build_corpus(root, healthy)
    # A second healthy run after every damaged one in sort order: nothing after a bad run may be lost.
    (root / "zz-healthy").mkdir()
    for half in ("train", "val"):
        (root / "zz-healthy" / half).symlink_to(healthy / half)
    return root, runs


def test_diagnose_survives_every_damaged_log_and_keeps_the_healthy_runs(corpus):
    root, runs = corpus
    out = subprocess.run([sys.executable, "-m", "tui.cli", "diagnose", str(root), "--json"],
                         capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300, check=False)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])  # 139 was the segfault
    assert "Traceback" not in out.stderr
    diagnosed = {run["run"]: run for run in json.loads(out.stdout)["runs"]}
    assert set(diagnosed) == set(runs) | {"healthy", "zz-healthy"}
    for name in ("healthy", "zz-healthy"):
        assert not diagnosed[name]["warnings"] and diagnosed[name]["last_step"] == 19
    silent = [name for name in runs if not diagnosed[name]["warnings"]]
    assert silent == [], f"damaged inputs without a warning: {silent}"


@pytest.mark.parametrize("power", [36, 44, 56, 63])
def test_a_huge_length_with_a_valid_crc_is_cut_before_the_reader(tmp_path, power):
    good = frame(b"\x09" + b"\0" * 8)  # any bytes: the framing is what matters here
    blob = good + frame(b"x" * 16, length=1 << power) + good
    path = tmp_path / "events.out.tfevents.1.x"
    path.write_bytes(blob)
    framing = records.check_framing(path)
    assert not framing.whole and framing.sound_bytes == len(good) and framing.overrun_length == 1 << power
    assert list(records.read_records(path, framing)) == [b"\x09" + b"\0" * 8]


def test_framing_of_whole_truncated_and_torn_files():
    one = frame(b"abc")
    assert records.walk_frames(one * 3, len(one) * 3).whole
    cut = records.walk_frames(one * 3, len(one) * 3 - 2)
    assert cut.sound_bytes == 2 * len(one) and cut.records == 2 and cut.overrun_at == 2 * len(one)
    torn = records.walk_frames(one + b"\1\2\3", len(one) + 3)  # under a header's 12 bytes: the reader stops safely
    assert torn.whole and torn.records == 1


@pytest.mark.parametrize("kind", ["fifo", "directory", "dangling-symlink"])
def test_special_files_named_like_event_files_are_warned_not_opened(tmp_path, kind):
    run = tmp_path / "run"
    run.mkdir()
    path = run / "events.out.tfevents.1.special"
    {"fifo": os.mkfifo, "directory": Path.mkdir, "dangling-symlink": lambda p: p.symlink_to(run / "gone")}[kind](path)
    history = read_run(run)  # a FIFO opened for reading would block here forever
    assert any("not a" in w and "events.out.tfevents.1.special" in w for w in history.warnings), history.warnings
    assert any("no values" in w for w in history.warnings)


def test_a_header_only_run_says_it_has_no_values(tmp_path):
    record_run(RunConfig(hidden_units=8, steps=2), data=tiny_mnist(), logdir=tmp_path / "src")
    source = next((tmp_path / "src" / "train").glob("events.out.tfevents.*")).read_bytes()
    header = source[: 16 + int.from_bytes(source[:8], "little")]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "events.out.tfevents.1.x").write_bytes(header)
    history = read_run(tmp_path / "run")
    assert history.train == {} and any("no values" in w for w in history.warnings)

"""`tblab board` serves our runs and tags through TensorBoard's own HTTP data API, on loopback."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from core.runs.recipe import record_run
from core.schema.config import RunConfig
from core.tensorboard.board import BoardError, start_board
from tests.helpers import tiny_mnist


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_board_serves_runs_and_tags_and_stops(tmp_path):
    config = RunConfig(hidden_units=8, steps=5, eval_every=2, histogram_every=2, image_every=4)
    result = record_run(config, data=tiny_mnist(), logdir=tmp_path / "demo" / "run1")
    board = start_board(tmp_path)
    try:
        assert board.url.startswith("http://127.0.0.1:")
        runs = get(board.url + "data/runs")
        assert set(runs) == {"demo/run1/train", "demo/run1/val"}
        tags = get(board.url + "data/plugin/scalars/tags")
        assert {"loss", "accuracy", "grad_norm/dense_1/kernel"} <= set(tags["demo/run1/train"])
        assert {"loss", "accuracy"} <= set(tags["demo/run1/val"])
        histograms = get(board.url + "data/plugin/histograms/tags")["demo/run1/train"]
        assert {"weights/dense_1/kernel", "gradients/output/kernel", "activations/dense_2"} <= set(histograms)
        from urllib.parse import quote
        series = get(board.url + f"data/plugin/histograms/histograms?run={quote('demo/run1/train')}&tag={quote('weights/dense_1/kernel')}")
        # (wall time, step, buckets), every step: the histogram metadata is in each tag's first event only.
        assert [s[1] for s in series] == [0, 2, 4] and all(len(s[2]) == 30 for s in series)
        # Values too, not just tags: the scalar metadata is in each tag's first event only.
        losses = get(board.url + f"data/plugin/scalars/scalars?run={quote('demo/run1/train')}&tag=loss")
        assert [(step, value) for _, step, value in losses] == pytest.approx(list(enumerate(result.history.series("loss").values)))
        images = get(board.url + "data/plugin/images/tags")["demo/run1/train"]
        assert "input/images" in images
        shown = get(board.url + f"data/plugin/images/images?run={quote('demo/run1/train')}&tag={quote('input/images')}&sample=0")
        assert [image["step"] for image in shown] == [0, 4]
        with urllib.request.urlopen(board.url + f"data/plugin/images/individualImage?{shown[-1]['query']}", timeout=10) as png:
            assert png.read().startswith(b"\x89PNG")
    finally:
        board.stop()
    assert board.process.poll() is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(board.url + "data/runs", timeout=2)


def test_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(BoardError, match=f"port {sock.getsockname()[1]} .* busy"):
            start_board(tmp_path, port=sock.getsockname()[1])


def test_board_never_imports_from_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "numpy.py").write_text("import pathlib\npathlib.Path(__file__).with_name('RAN').write_text('x')\nraise SystemExit(1)\n")
    (tmp_path / "logs").mkdir()
    monkeypatch.chdir(tmp_path)
    board = start_board(tmp_path / "logs")
    try:
        with urllib.request.urlopen(board.url + "data/runs", timeout=5) as reply:
            assert json.loads(reply.read()) == []
    finally:
        board.stop()
    assert not (tmp_path / "RAN").exists()

"""`tblab diagnose` on a folder of many runs (issue 21 item 7) and on crafted text tags
(issue 23: logs are data): every run gets its verdict and its Reading, a summary table
closes the output, a bad tag costs that tag with a warning (never the run's loss series,
never the folder), and nothing printed from a log carries a control character."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tensorflow as tf
from tensorboard.compat.proto.summary_pb2 import SummaryMetadata

from core.tensorboard.reader import read_run
from tests.student_logs import STEPS, STYLES, write_student_run
from tui.cli import main

# text tag -> crafted value: bombs, infinities, wrong types (issue 23)
CRAFTED = {
    "config_bomb": ("config", "[" * 100000),
    "config_list": ("config", "[1, 2, 3]"),
    "config_types": ("config", json.dumps({"learning_rate": "fast", "batch_size": 1e300, "steps": 2**70})),
    "balance_overflow": ("class_balance", "1e400"),
    "balance_list": ("class_balance", "[1, 2]"),
    "balance_huge": ("class_balance", json.dumps({"train": [10**30, 1], "test": [1, 1]})),
    "keras_malformed": ("keras", json.dumps({"config": {"layers": [{"class_name": "Dense", "config": []}, 7]}})),
    "keras_not_json": ("keras", "{'layers': oops"),
}


def write_crafted_run(folder: Path, tag: str, text: str) -> None:
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        metadata = None
        if tag == "keras":  # Keras' callback writes its model config under this plugin
            metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graph_keras_model"))
            tf.summary.write(tag, tf.constant(text), step=0, metadata=metadata)
        else:
            tf.summary.text(tag, text, step=0)
        for step in range(STEPS):
            tf.summary.scalar("loss", 2.3 - 0.05 * step, step=step)
            tf.summary.scalar("x" * 300, 1.0, step=step)  # an over-long tag name
    writer.close()


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class")
    for style in STYLES:
        write_student_run(root / f"student-{style}", style)
    for name, (tag, text) in CRAFTED.items():
        write_crafted_run(root / name, tag, text)
    write_student_run(root / "evil\x1b[2J\x1b]0;title\x07name", "tf_vname")
    return root


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_a_crafted_text_tag_costs_that_tag_with_a_warning_never_the_loss(root, name):
    history = read_run(root / name)
    assert history.series("loss").steps == list(range(STEPS))
    tag = CRAFTED[name][0]
    assert any(("Keras model config" if tag == "keras" else f"text tag {tag}") in w for w in history.warnings), \
        history.warnings
    assert not history.facts.model and history.facts.class_balance is None
    config = history.facts.config
    assert isinstance(config, dict) and "learning_rate" not in config and "steps" not in config


def test_diagnose_a_folder_of_runs_json_carries_each_reading_and_a_summary(root, capsys):
    assert main(["diagnose", str(root), "--json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    runs = {run["run"]: run for run in data["runs"]}
    assert len(runs) == len(STYLES) + len(CRAFTED) + 1
    assert sum(data["summary"].values()) == len(runs)
    for style, (loss_tag, *_) in STYLES.items():
        assert runs[f"student-{style}"]["reading"]["roles"]["loss"]["tag"] == loss_tag
    assert "\x1b" not in out.out and "\x07" not in out.out
    assert "evil[2J]0;titlename" in runs
    assert "\r" not in out.err  # no progress bar into a pipe


def test_diagnose_text_prints_the_reading_and_a_summary_table(root, capsys):
    assert main(["diagnose", str(root), "--brief"]) == 0
    out = capsys.readouterr().out
    assert "read as: loss <- Loss/train" in out
    assert "grad_norm: w0 <- grad_norm/w0:0, w1 <- grad_norm/w1:0, wout <- grad_norm/wout:0 (+ 3 biases)" in out
    assert f"{len(STYLES) + len(CRAFTED) + 1} runs:" in out.splitlines()[-1]
    assert "\x1b" not in out


def test_tag_override_on_the_command_line(root, capsys):
    run = root / "student-tf_vname"
    assert main(["diagnose", str(run), "--json", "--tag", "test_accuracy=accuracy"]) == 0
    reading = json.loads(capsys.readouterr().out)["runs"][0]["reading"]
    assert reading["roles"]["test/accuracy"] == {"tag": "accuracy", "how": "--tag"}
    assert main(["diagnose", str(run), "--tag", "colour=loss"]) == 2
    assert capsys.readouterr().err.startswith("tblab: --tag")


def test_the_progress_bar_draws_on_a_terminal_only(capsys):
    from tui.commands.diagnose import Progress

    Progress(enabled=False).show(3, 10, "run")
    assert capsys.readouterr().err == ""
    bar = Progress(enabled=True)
    bar.show(5, 10, "run\x1b[2J")
    bar.clear()
    err = capsys.readouterr().err
    assert "[" + "#" * 15 + "-" * 15 + "] 5/10 run[2J" in err and "\x1b[2J" not in err


def test_an_over_long_or_missing_folder_name_is_a_one_line_error(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / ("x" * 300))]) == 2
    assert main(["diagnose", str(tmp_path / "nope\x1b[2J")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("tblab: ") for line in err) and "\x1b" not in "".join(err)
    assert "File name too long" in err[0]


def test_many_runs_diagnosed_in_worker_processes_match_the_serial_reports(root, monkeypatch, capsys):
    import json

    from core.runs import many

    assert main(["diagnose", str(root), "--json"]) == 0
    serial = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(many, "MIN_RUNS_PER_WORKER", 4)  # 15 runs: two workers
    assert main(["diagnose", str(root), "--json", "--jobs", "2"]) == 0
    parallel = json.loads(capsys.readouterr().out)
    assert parallel == serial  # same order, same verdicts, readings and summary
    assert {r["run"] for r in serial["runs"]} >= {f"student-{style}" for style in STYLES}

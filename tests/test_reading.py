"""The Reading (issue 21): one small MLP's training logged with tf.summary under many naming
styles that people really use must be read into the same roles: loss, accuracy, test accuracy,
three layers (not six: biases sit beside their kernels), input side first, with the log's own
layer names. Real event files, written here; nothing about a style is known to the reader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from core.tensorboard.layers import layer_of
from core.tensorboard.reader import read_run
from core.tensorboard.reading.roles import BY_CONTENT, BY_USER, parse_override
from tests.student_logs import SIZES, STEPS, STYLES, write_student_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("styles")
    for style in STYLES:
        write_student_run(root / style, style)
    return {style: root / style for style in STYLES}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_naming_style_is_read_into_the_same_roles(runs, style):
    history = read_run(runs[style])
    reading = history.facts.reading
    loss_name, acc_name, test_name, _, _ = STYLES[style]
    assert reading.tag_of("loss") == loss_name
    assert reading.tag_of("accuracy") == acc_name
    assert reading.tag_of("test/accuracy") == test_name
    assert history.val["accuracy"].values == [pytest.approx(0.9)]
    assert reading.unplaced == ()
    kernels = [tag for tag in history.histograms if tag.endswith("/kernel")]
    biases = [tag for tag in history.histograms if tag.endswith("/bias")]
    assert len(kernels) == len(biases) == len(SIZES) - 1, sorted(history.histograms)
    # Each bias sits in its kernel's layer; the layers run input side first (fan-in x fan-out).
    order = list(history.facts.layer_order)
    assert len(order) == len(SIZES) - 1, order
    assert {layer_of(tag)[1] for tag in biases} == set(order)
    sizes = [history.histograms[f"weights/{layer}/kernel"][0].counts.sum() for layer in order]
    assert sizes == [SIZES[i] * SIZES[i + 1] for i in range(len(SIZES) - 1)]
    grads = [tag for tag in history.train if tag.startswith("grad_norm/") and tag.endswith("/kernel")]
    assert {layer_of(tag)[1] for tag in grads} == set(order)
    assert history.facts.output_layers[-1] == order[-1]


def test_layers_keep_the_logs_own_names(runs):
    history = read_run(runs["tf_vname"])
    assert history.facts.layer_order == ("w0", "w1", "wout")
    assert "weights/w0/bias" in history.histograms and "grad_norm/wout/bias" in history.train
    assert read_run(runs["pytorch"]).facts.layer_order == ("fc1", "fc2", "fc3")
    assert read_run(runs["keras_sequential"]).facts.layer_order == ("dense", "dense_1", "dense_2")


def test_a_single_end_of_run_accuracy_in_the_same_folder_is_the_test_accuracy(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        for step in range(STEPS):
            tf.summary.scalar("loss", 2.3 - step * 0.05, step=step)
            tf.summary.scalar("acc", 0.1 + step * 0.02, step=step)
        tf.summary.scalar("final_acc", 0.88, step=STEPS)
    writer.close()
    history = read_run(tmp_path / "run")
    assert history.val["accuracy"].values == [pytest.approx(0.88)]
    assert history.facts.reading.tag_of("test/accuracy") == "final_acc"


@pytest.mark.parametrize("classes", [3, 10])
def test_loss_and_accuracy_are_recognised_by_content_when_no_name_says_so(tmp_path, classes):
    # The net has 3 output units: a loss from ln 3 is the one the data shows; a loss from ln 10
    # is not (K comes from the output layer, never assumed to be MNIST's 10).
    write_student_run(tmp_path / "run", "tf_vname", loss_tag="objective", acc_tag="score", end_test=False,
                      classes=classes)
    history = read_run(tmp_path / "run")
    reading = history.facts.reading
    if classes == 3:
        assert reading.tag_of("loss") == "objective" and reading.tag_of("accuracy") == "score"
        assert {r.how for r in reading.roles if r.role in ("loss", "accuracy")} == {BY_CONTENT}
    else:
        assert "objective" in reading.unplaced


@pytest.mark.parametrize("classes", [3, 10, 100])
def test_without_an_output_layer_k_comes_from_the_accuracy_a_loss_moves_against(tmp_path, classes):
    for run, with_accuracy in (("pair", True), ("alone", False)):
        writer = tf.summary.create_file_writer(str(tmp_path / run))
        with writer.as_default():
            for step in range(STEPS):
                loss = math.log(classes) * math.exp(-step / 10) + 0.05
                tf.summary.scalar("objective", loss, step=step)
                if with_accuracy:
                    tf.summary.scalar("score", 1 / classes + (0.9 - 1 / classes) * (1 - math.exp(-step / 10)), step=step)
        writer.close()
    pair, alone = (read_run(tmp_path / run).facts.reading for run in ("pair", "alone"))
    assert pair.tag_of("loss") == "objective" and pair.tag_of("accuracy") == "score"
    assert alone.tag_of("loss") is None and alone.unplaced == ("objective",)  # K unknown: no ln K to judge by


def test_a_value_that_is_no_loss_is_not_taken_for_one(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        for step in range(STEPS):
            tf.summary.scalar("step_time", 0.05, step=step)  # flat, far from ln K
            tf.summary.scalar("l2_loss", 2.3 - step * 0.05, step=step)  # a regulariser, named so
    writer.close()
    history = read_run(tmp_path / "run")
    assert "loss" not in history.train
    assert set(history.facts.reading.unplaced) == {"step_time", "l2_loss"}


def test_percent_accuracies_are_read_as_fractions(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        for step in range(STEPS):
            tf.summary.scalar("loss", 2.3 - step * 0.05, step=step)
            tf.summary.scalar("accuracy", 10.0 + step * 2, step=step)
    writer.close()
    history = read_run(tmp_path / "run")
    assert max(history.train["accuracy"].values) == pytest.approx(0.68)
    assert any("percentage" in warning for warning in history.warnings)


def test_tag_override_fills_a_role_with_the_users_tag(runs):
    history = read_run(runs["tf_vname"], overrides={"loss": "accuracy", "accuracy": "loss"})
    reading = history.facts.reading
    assert reading.tag_of("loss") == "accuracy" and reading.tag_of("accuracy") == "loss"
    assert {r.how for r in reading.roles if r.role in ("loss", "accuracy")} == {BY_USER}
    assert history.train["loss"].values[-1] > 0.8  # the accuracy's values, as asked
    history = read_run(runs["tf_vname"], overrides={"test/accuracy": "nope"})
    assert any("--tag test/accuracy=nope" in warning for warning in history.warnings)


@pytest.mark.parametrize("text,role", [("loss=x", "loss"), ("test_accuracy=eval/acc", "test/accuracy"),
                                       ("grad_norm/w0/kernel=g0", "grad_norm/w0/kernel")])
def test_tag_overrides_parse(text, role):
    assert parse_override(text)[0] == role


@pytest.mark.parametrize("text", ["loss", "=x", "colour=x"])
def test_bad_tag_overrides_are_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="--tag"):
        parse_override(text)


def test_an_input_histogram_gives_the_input_statistics(tmp_path):
    rng = np.random.default_rng(1)
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        for step in range(0, STEPS, 5):
            tf.summary.scalar("loss", 2.3, step=step)
            tf.summary.histogram("input/x", rng.random(784) + rng.normal(0, 5, 784), step=step)
    writer.close()
    history = read_run(tmp_path / "run")
    assert history.train["input/std"].values[0] == pytest.approx(5, rel=0.2)
    assert history.train["input/min"].values[0] < -10 < 10 < history.train["input/max"].values[0]


def test_activation_histograms_are_recognised_by_their_shape_where_no_name_says_so(tmp_path):
    rng = np.random.default_rng(2)
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        for step in range(0, STEPS, 5):
            tf.summary.scalar("loss", 2.3, step=step)
            tf.summary.histogram("relu1", np.maximum(rng.normal(size=640), 0), step=step)  # half at 0
            tf.summary.histogram("layer2/out", 1 / (1 + np.exp(-rng.normal(size=640))), step=step)  # in (0, 1)
            tf.summary.histogram("hidden1", rng.normal(size=640), step=step)  # both signs: not told apart
            tf.summary.histogram("softmax", rng.dirichlet(np.ones(10), 64).ravel(), step=step)  # the output
    writer.close()
    history = read_run(tmp_path / "run")
    assert {"activations/relu1", "activations/out"} <= set(history.histograms)
    assert {"hidden1", "softmax"} <= set(history.histograms)
    assert {r.how for r in history.facts.reading.roles if r.role.startswith("activations/")} == {BY_CONTENT}


@pytest.mark.parametrize("acts", [("Act1", "Act2"), ("hidden1", "hidden2"), ("activations/h1", "activations/h2"),
                                  ("activation_0", "activation_1")])
def test_layer_outputs_are_told_from_variables_by_size_and_join_their_layers(tmp_path, acts):
    # W1/B1... named by the student; the outputs' histograms count batch x units and, dead, are all 0:
    # they are no weights (that would read dead ReLUs as weights that start identical).
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    rng = np.random.default_rng(3)
    batch = 4
    with writer.as_default():
        for step in range(0, STEPS, 5):
            tf.summary.scalar("loss", 1.1, step=step)
            for i in range(len(SIZES) - 1):
                tf.summary.histogram(f"W{i + 1}", rng.normal(size=SIZES[i] * SIZES[i + 1]), step=step)
                tf.summary.histogram(f"B{i + 1}", np.zeros(SIZES[i + 1]), step=step)
                tf.summary.scalar(f"W{i + 1}:0_grad_norm", 0.0, step=step)  # f"{v.name}_grad_norm"
                tf.summary.scalar(f"B{i + 1}:0_grad_norm", 0.0, step=step)
            for i, tag in enumerate(acts):
                tf.summary.histogram(tag, np.zeros(batch * SIZES[i + 1]), step=step)
    writer.close()
    history = read_run(tmp_path / "run")
    assert history.facts.layer_order == ("W1", "W2", "W3")
    assert {"activations/W1", "activations/W2"} <= set(history.histograms), sorted(history.histograms)
    assert not any(tag.startswith("weights/") and "W" not in tag.split("/")[1] for tag in history.histograms)
    assert {f"grad_norm/W{i}/{part}" for i in (1, 2, 3) for part in ("kernel", "bias")} <= set(history.train)
    assert history.facts.batch_size == batch


def test_the_batch_size_comes_from_activations_already_named_after_their_layer(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        for step in range(0, STEPS, 5):
            tf.summary.scalar("Loss/train", 1.1, step=step)
            for i in range(len(SIZES) - 1):
                tf.summary.histogram(f"fc{i + 1}.weight", np.ones(SIZES[i] * SIZES[i + 1]), step=step)
                tf.summary.histogram(f"fc{i + 1}.bias", np.ones(SIZES[i + 1]), step=step)
            for i in range(len(SIZES) - 2):
                tf.summary.histogram(f"activations/fc{i + 1}", np.ones(7 * SIZES[i + 1]), step=step)
    writer.close()
    assert read_run(tmp_path / "run").facts.batch_size == 7


def test_lone_histograms_all_at_zero_are_not_taken_for_kernels(tmp_path):
    # Nothing else names a variable: `layer1`, `layer2` are read as kernels by their numbers, unless
    # all at 0, which says nothing of what they hold (dead outputs as much as zero weights).
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    rng = np.random.default_rng(4)
    with writer.as_default():
        for step in range(0, STEPS, 5):
            tf.summary.scalar("loss", 2.3, step=step)
            tf.summary.histogram("layer1", rng.normal(size=60), step=step)
            tf.summary.histogram("layer2", rng.normal(size=30), step=step)
            tf.summary.histogram("Act1", np.zeros(40), step=step)
            tf.summary.histogram("Act2", np.zeros(40), step=step)
    writer.close()
    history = read_run(tmp_path / "run")
    assert {"weights/layer1/kernel", "weights/layer2/kernel", "Act1", "Act2"} <= set(history.histograms)

"""Logs written by programs that are not tblab (issue 14): a frozen subset of the
bench/gen_foreign_logs.py suite, the tag-meaning parsing and the derived signals.

The fixtures are real event files from Keras' TensorBoard callback (with histograms, and as
most people leave it: per-epoch scalars and the model config), from hand-written tf.summary
loops in three naming styles and from TensorFlow's TF1 tutorial (legacy protos, `train/` and
`test/`, `cross_entropy_1`); their manifest says what is wrong with each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.doctor import diagnose
from core.doctor import thresholds as T
from core.doctor.derived import mean_slope, saturated_share
from core.doctor.evidence import kendall_tau
from core.schema.history import HistogramSnapshot
from core.tensorboard.layers import deaverage_running_means, name_by_size, numbered_order, output_layers, steps_per_epoch
from core.tensorboard.model_config import summarise_keras
from core.tensorboard.reader import find_runs, read_run
from core.tensorboard.tag_styles import KERAS, PLAIN, TRAIN, detect_style, map_histogram, map_scalar

FIXTURES = Path(__file__).parent / "fixtures" / "foreign_logs"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["runs"]
# The doctor names shuffled labels by their own finding, or as a loss at chance blaming the labels.
ACCEPTED = {"shuffled_labels": {"shuffled_labels", "loss_at_chance"}}


@pytest.fixture(scope="module")
def verdicts():
    return {name: diagnose(read_run(FIXTURES / name, name=name)) for name in MANIFEST}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_the_doctor_names_what_is_wrong_with_each_foreign_run(verdicts, name):
    label, diagnosis = MANIFEST[name]["label"], verdicts[name]
    if label == "healthy":
        assert diagnosis.findings == ()
        return
    assert diagnosis.primary is not None, f"{name}: no finding"
    assert diagnosis.primary.id in ACCEPTED.get(label, {label}), diagnosis.primary.evidence
    if diagnosis.primary.id == "loss_at_chance":
        assert diagnosis.primary.fixes[0] == "shuffle_labels_off"


def test_indirect_findings_say_what_they_were_inferred_from_and_are_less_sure(verdicts):
    for name in ("keras/vanishing", "scoped/input_scale", "flat/lr_too_low", "keras/input_scale"):
        primary = verdicts[name].primary
        assert "inferred" in primary.evidence
        assert primary.confidence <= T.CONFIDENCE_INFERRED + 0.15
    assert "model config" in verdicts["keras/symmetric_init"].primary.evidence


def test_a_keras_log_runs_every_check_its_weights_and_config_allow(verdicts):
    diagnosis = verdicts["keras/vanishing"]
    assert {"vanishing", "dead_relu", "saturated", "lr_too_low", "symmetric_init"} <= set(diagnosis.checks_run)


def test_checks_a_log_cannot_run_name_the_one_tag_that_would_allow_them():
    history = read_run(FIXTURES / "flat" / "lr_too_low")
    history.val.clear()
    skipped = {s.id: s.needs for s in diagnose(history).checks_skipped}
    assert skipped["shuffled_labels"] == "a test-set `accuracy` beside the training one"


def test_train_and_test_folders_are_two_halves_of_one_run():
    runs = find_runs(FIXTURES / "split")
    assert runs == [FIXTURES / "split" / "dead_relu"]
    history = read_run(runs[0])
    assert {"loss", "accuracy"} <= set(history.val) and "grad_norm/w0/kernel" in history.train


def test_keras_running_means_are_turned_back_into_batch_values():
    history = read_run(FIXTURES / "keras" / "healthy_1")
    assert history.facts.deaveraged
    accuracy = np.asarray(history.series("accuracy").values)
    batch = MANIFEST["keras/healthy_1"]["spec"]["batch"]
    # One batch's accuracy is a multiple of 1/batch (a running mean is not, past the first batch).
    assert np.allclose(accuracy * batch, np.round(accuracy * batch), atol=1e-2)
    assert 0.0 <= accuracy.min() and accuracy.max() <= 1.0


def test_layer_names_kernels_and_the_output_are_recovered_by_meaning():
    split = read_run(FIXTURES / "split" / "dead_relu")
    assert {"weights/layer1/kernel", "weights/layer1/bias"} <= set(split.histograms)  # layer1, layer1_offset
    assert split.facts.output_layers[-1] in ("layer3", "w2")
    scoped = read_run(FIXTURES / "scoped" / "input_scale")
    assert "logits" in scoped.histograms and "weights/first_layer/kernel" in scoped.histograms
    keras = read_run(FIXTURES / "keras" / "vanishing")
    model = keras.facts.model
    assert [layer["activation"] for layer in model["layers"]][:-1] == ["sigmoid"] * (len(model["layers"]) - 1)
    assert model["loss"] == "SparseCategoricalCrossentropy" and model["from_logits"] is True


# --- tag meaning ------------------------------------------------------------------------


@pytest.mark.parametrize("tag,name", [
    ("grad_norm_w0", "grad_norm/w0/kernel"),
    ("w0_grad_norm", "grad_norm/w0/kernel"),
    ("gradnorm/w0", "grad_norm/w0/kernel"),
    ("b2_gradient_norm", "grad_norm/b2/bias"),
    ("GradNorm/W_1", "grad_norm/W_1/kernel"),
    ("norm_of_grad_w3", "grad_norm/w3/kernel"),
    ("dense_1/kernel/grad_norm", "grad_norm/dense_1/kernel"),
    ("gradient_norm/dense_1/kernel_0", "grad_norm/dense_1/kernel"),
    ("grad-norm.fc2.weight", "grad_norm/fc2/kernel"),
    ("fc1.bias_grad_norm", "grad_norm/fc1/bias"),
    ("grad_norm", "grad_norm/global"),
    ("gradients_norm_total", "grad_norm/global"),
    ("grad_l2_norm/global", "grad_norm/global"),
    ("gradient", "gradient"),  # a gradient without "norm" is not a norm
    ("normal_loss", "normal_loss"),
])
def test_gradient_norm_tags_are_read_by_their_words_in_any_order(tag, name):
    assert map_scalar(tag, TRAIN, PLAIN).name == name


@pytest.mark.parametrize("tag,name", [
    ("w0", "weights/w0/kernel"),
    ("weights", "weights/first_layer/kernel"),
    ("logits", "logits"),
    ("output/logits", "logits"),
    ("hidden1_activations", "activations/hidden1"),
    ("h1/activation", "activations/h1"),
    ("dense/kernel_0", "weights/dense/kernel"),
    ("layer1", "layer1"),  # named by the reader from its size, next to layer1_offset
])
def test_histogram_tags_are_read_by_meaning(tag, name):
    assert map_histogram(tag, PLAIN) == name


@pytest.mark.parametrize("tag,name", [  # TensorFlow's TF1 tutorial, mnist_with_summaries.py
    ("cross_entropy_1", "loss"),
    ("accuracy_1", "accuracy"),
    ("train/cross_entropy", "loss"),
    ("layer1/weights/summaries/mean_1", "layer1/weights/summaries/mean_1"),  # not a metric: kept
    ("w0_1", "w0_1"),
])
def test_tf1_tutorial_scalars_are_read_by_meaning(tag, name):
    assert map_scalar(tag, TRAIN, PLAIN).name == name


def test_tf1_tutorial_histograms_are_read_by_meaning_and_not_taken_for_keras():
    tags = {"layer1/weights/summaries/histogram", "layer1/biases/summaries/histogram", "layer1/activations",
            "layer1/Wx_plus_b/pre_activations"}
    assert detect_style({"cross_entropy_1", "accuracy_1"}, tags, set()) == PLAIN
    assert detect_style(set(), {"dense_1/kernel/histogram"}, set()) == KERAS
    assert map_histogram("layer1/weights/summaries/histogram", PLAIN) == "weights/layer1/kernel"
    assert map_histogram("layer1/biases/summaries/histogram", PLAIN) == "weights/layer1/bias"
    assert map_histogram("layer1/activations", PLAIN) == "activations/layer1"


def test_kernel_and_bias_are_told_apart_by_size():
    counts = {"layer1": 78400.0, "layer1_offset": 100.0, "layer2": 1000.0, "layer2_offset": 10.0}
    assert name_by_size(counts) == {
        "layer1": "weights/layer1/kernel", "layer1_offset": "weights/layer1/bias",
        "layer2": "weights/layer2/kernel", "layer2_offset": "weights/layer2/bias",
    }
    assert name_by_size({"fc2_b": 10.0, "fc2": 640.0})["fc2"] == "weights/fc2/kernel"
    assert name_by_size({"a": 5.0, "b": 5.0}) == {}  # nothing to go by


def test_layer_order_comes_from_numbers_then_first_appearance():
    tags = ["grad_norm/layer_10/kernel", "grad_norm/layer_2/kernel", "activations/h1", "weights/first_layer/kernel",
            "grad_norm/extra/kernel"]
    assert numbered_order(tags) == ["first_layer", "h1", "layer_2", "layer_10", "extra"]
    assert output_layers(tags, numbered_order(tags)) == ["extra"]
    assert output_layers(["weights/first_layer/kernel"], ["first_layer"]) == []  # one layer says nothing


# --- Keras' running means ------------------------------------------------------------------


def test_running_means_are_de_averaged_within_each_epoch():
    rng = np.random.default_rng(3)
    period, batches = 7, rng.uniform(0, 1, 21)
    steps = list(range(1, 22))  # Keras counts batches from 1
    means = [float(np.mean(batches[(s - 1) // period * period: s])) for s in steps]
    assert np.allclose(deaverage_running_means(steps, means, period), batches)
    # Logged every 3rd batch: the mean of the batches since the previous logged one.
    sparse = steps[2::3]
    got = deaverage_running_means(sparse, [means[s - 1] for s in sparse], period)
    first_epoch = [batches[0:3].mean(), batches[3:6].mean()]
    assert np.allclose(got[:2], first_epoch)
    assert np.isclose(got[2], batches[7:9].mean())  # step 9 is batch 2 of epoch 2: batches 8-9
    assert steps_per_epoch([63, 126, 189]) == 63 and steps_per_epoch([]) is None


def test_the_keras_model_config_is_summarised_neutrally():
    config = {
        "class_name": "Sequential",
        "config": {"layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, 784]}},
            {"class_name": "Dense", "config": {"name": "d1", "units": 100, "activation": "relu",
                                               "kernel_initializer": {"class_name": "RandomUniform",
                                                                      "config": {"minval": -0.4, "maxval": 0.4}},
                                               "bias_initializer": {"class_name": "Constant", "config": {"value": -3.0}}}},
            {"class_name": "Dense", "config": {"name": "d2", "units": 10, "activation": "softmax",
                                               "kernel_initializer": {"class_name": "HeNormal", "config": {}},
                                               "bias_initializer": {"class_name": "Zeros", "config": {}}}},
        ]},
        "compile_config": {"loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}},
                           "optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.5}}},
    }
    model = summarise_keras(json.dumps(config))
    first, out = model["layers"]
    assert first["fan_in"] == 784 and abs(first["kernel_std"] - 0.8 / np.sqrt(12)) < 1e-9 and first["bias_const"] == -3.0
    assert out["fan_in"] == 100 and abs(out["kernel_std"] - np.sqrt(2 / 100)) < 1e-9
    assert model["output_activation"] == "softmax" and model["from_logits"] is True
    assert model["optimizer"] == "SGD" and model["learning_rate"] == 0.5
    assert summarise_keras("not json") is None


# --- derived signals ---------------------------------------------------------------------


def _histogram(values: np.ndarray, edges: np.ndarray) -> HistogramSnapshot:
    counts, _ = np.histogram(values, edges)
    return HistogramSnapshot(0, edges, counts.astype(float))


def test_mean_slope_is_the_share_of_the_gradient_sigmoid_units_pass_back():
    rng = np.random.default_rng(0)
    edges = np.linspace(0, 1, 31)
    middle = _histogram(1 / (1 + np.exp(-rng.normal(0, 0.5, 5000))), edges)  # a variance-scaled start
    pinned = _histogram(1 / (1 + np.exp(-rng.normal(0, 8.0, 5000))), edges)  # weights far too large
    assert mean_slope(middle, "sigmoid") > 0.9
    assert mean_slope(pinned, "sigmoid") < T.SATURATED_SLOPE
    assert mean_slope(middle, "relu") != mean_slope(middle, "relu")  # NaN: not a bounded activation


def test_a_coarse_bucket_ending_at_the_asymptote_counts_as_saturated():
    """TF1's exponential buckets are ~9% wide next to 1: half the outputs at exactly 0 and 1
    must read as saturated although the top bucket's centre is 0.96."""
    edges = np.array([0.0, 1e-12, 0.5, 0.9172, 1.0])
    snap = HistogramSnapshot(0, edges, np.array([50.0, 0.0, 0.0, 50.0]))
    assert saturated_share(snap, "sigmoid") == 1.0 and saturated_share(snap, "sigmoid", upper_only=True) == 0.5
    assert mean_slope(snap, "sigmoid") == 0.0


def test_kendall_tau_measures_a_steady_fall():
    assert kendall_tau([5, 4, 3, 2, 1]) == -1.0
    assert kendall_tau([1, 2, 3]) == 1.0
    noise = np.random.default_rng(1).normal(2.3, 0.02, 10).tolist()
    assert abs(kendall_tau(noise)) < T.STEADY_DESCENT_TAU


def test_a_log_holding_only_a_graph_says_the_program_stopped_before_its_first_summary(tmp_path):
    """What a TF1 script leaves when its first histogram summary meets NaN: the graph, no values."""
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2

    with tf.io.TFRecordWriter(str(tmp_path / "events.out.tfevents.1.host")) as writer:
        writer.write(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())
        writer.write(event_pb2.Event(wall_time=1.0, graph_def=tf.Graph().as_graph_def().SerializeToString()).SerializeToString())
    history = read_run(tmp_path)
    assert not history.train and any("graph but no values" in warning for warning in history.warnings)

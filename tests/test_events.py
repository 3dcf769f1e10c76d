"""core/tensorboard/reader.py and tag_styles.py: real event files (tblab-style, Keras, plain,
legacy, damaged) read back into History."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from core.tensorboard import tag_styles
from core.tensorboard.reader import LogError, find_runs, read_all, read_run
from core.tensorboard.tag_styles import KERAS, PLAIN, TRAIN, VAL, map_histogram, map_scalar

TBLAB_STEPS = 30  # > 10: EventAccumulator's default would silently keep only 10 per tensor tag
LAYERS = ("dense_1", "output")


def write_tblab_run(run: Path, steps: int = TBLAB_STEPS, histogram_every: int = 5) -> None:
    """A run in tblab's layout and tag scheme (core/schema/tags.py), written with tf.summary."""
    train = tf.summary.create_file_writer(str(run / "train"))
    val = tf.summary.create_file_writer(str(run / "val"))
    rng = np.random.default_rng(0)
    with train.as_default():
        tf.summary.text("config", json.dumps({"learning_rate": 0.1}), step=0)
        tf.summary.text("data_source", "mnist (test fixture)", step=0)
        for step in range(steps):
            loss = math.nan if step == 20 else (math.inf if step == 21 else 2.0 / (step + 1))
            tf.summary.scalar("loss", loss, step=step)
            tf.summary.scalar("accuracy", step / steps, step=step)
            tf.summary.scalar("grad_norm/global", 1.0, step=step)
            tf.summary.scalar("nonfinite/count", float(step >= 20), step=step)
            for layer in LAYERS:
                tf.summary.scalar(f"grad_norm/{layer}/kernel", 0.5, step=step)
                tf.summary.scalar(f"update_ratio/{layer}/kernel", 1e-3, step=step)
            if step % histogram_every == 0:
                for layer in LAYERS:
                    tf.summary.histogram(f"weights/{layer}/kernel", rng.normal(size=40), step=step)
                    # NaN gradients from step 20 on: their bucket edges become NaN
                    grads = rng.normal(size=40) * (math.nan if step >= 20 else 1.0)
                    tf.summary.histogram(f"gradients/{layer}/kernel", grads, step=step)
                tf.summary.histogram("activations/dense_1", rng.random(40), step=step)
    with val.as_default():
        for step in range(0, steps, 10):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            tf.summary.scalar("accuracy", 0.5, step=step)
    train.close()
    val.close()


def write_scalars(folder: Path, tags: dict[str, list[float]]) -> None:
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        for tag, values in tags.items():
            for step, value in enumerate(values):
                tf.summary.scalar(tag, value, step=step)
    writer.close()


def only_event_file(folder: Path) -> Path:
    (path,) = folder.glob("events.out.tfevents.*")
    return path


@pytest.fixture(scope="module")
def tblab_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("logs") / "fail2" / "20240101-000000-as-is"
    write_tblab_run(run)
    return run


# --- tblab's own runs ---------------------------------------------------------------


def test_tblab_run_reads_every_step_into_our_names(tblab_run):
    history = read_run(tblab_run)
    assert history.run == tblab_run.name
    assert history.facts.style == "tblab"
    assert history.facts.step_unit == "step"
    assert history.facts.config == {"learning_rate": 0.1}
    assert history.facts.data_source == "mnist (test fixture)"
    loss = history.series("loss")
    assert loss.steps == list(range(TBLAB_STEPS))  # all 30, not EventAccumulator's 10
    assert loss.values[1] == pytest.approx(1.0)
    assert math.isnan(loss.values[20]) and loss.values[21] == math.inf  # kept, not dropped
    assert history.layers() == ["dense_1", "output"]
    assert history.val["loss"].steps == [0, 10, 20]
    assert history.val["accuracy"].values == [0.5, 0.5, 0.5]
    assert "loss" in history.facts.raw_tags
    assert history.facts.tag_map == ()  # nothing renamed


def test_tblab_histograms_decode_and_nonfinite_ones_are_skipped_with_a_warning(tblab_run):
    history = read_run(tblab_run)
    weights = history.histograms["weights/dense_1/kernel"]
    assert [snap.step for snap in weights] == [0, 5, 10, 15, 20, 25]
    for snap in weights:
        assert len(snap.edges) == len(snap.counts) + 1
        assert snap.counts.sum() == pytest.approx(40)
        assert np.all(np.diff(snap.edges) >= 0)
    gradients = history.histograms["gradients/dense_1/kernel"]
    assert [snap.step for snap in gradients] == [0, 5, 10, 15]
    warning = next(w for w in history.warnings if "gradients/dense_1/kernel" in w)
    assert "skipped 2" in warning and "step 20" in warning


def test_max_histograms_per_tag_keeps_first_and_last_evenly(tblab_run):
    history = read_run(tblab_run, max_histograms_per_tag=3)
    steps = [snap.step for snap in history.histograms["weights/dense_1/kernel"]]
    assert len(steps) == 3 and steps[0] == 0 and steps[-1] == 25
    history = read_run(tblab_run, max_histograms_per_tag=1)
    assert [snap.step for snap in history.histograms["weights/dense_1/kernel"]] == [25]
    with pytest.raises(ValueError, match="max_histograms_per_tag"):
        read_run(tblab_run, max_histograms_per_tag=0)


def test_importing_events_loads_neither_tensorflow_nor_textual():
    code = "import sys, core.tensorboard.reader; print(sorted({'tensorflow', 'tensorboard', 'textual'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- Keras' TensorBoard callback ----------------------------------------------------


def fit_keras(logdir: Path, update_freq) -> None:
    import keras

    rng = np.random.default_rng(0)
    x = rng.random((64, 8), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(4, activation="relu", name="hidden"), keras.layers.Dense(3, name="logits")],
        name="mlp",
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callback = keras.callbacks.TensorBoard(str(logdir), histogram_freq=1, update_freq=update_freq)
    # 64 samples / batch 16 = 4 iterations per epoch, 2 epochs
    model.fit(x, y, batch_size=16, epochs=2, validation_data=(x[:16], y[:16]), verbose=0, callbacks=[callback])


@pytest.fixture(scope="module")
def keras_logs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("keras")
    fit_keras(root / "per_batch", "batch")
    fit_keras(root / "per_epoch", "epoch")
    return root


def test_keras_writes_what_the_mapping_assumes(keras_logs):
    """What Keras 3 really writes (update_freq='batch'): the mapping table is built on this."""
    history = read_run(keras_logs / "per_batch")
    raw = set(history.facts.raw_tags)
    assert {
        "batch_loss",
        "batch_accuracy",
        "epoch_loss",
        "epoch_accuracy",
        "epoch_learning_rate",
        "evaluation_loss_vs_iterations",
        "evaluation_accuracy_vs_iterations",
        "mlp/hidden/kernel/histogram",
        "mlp/logits/bias/histogram",
    } <= raw
    assert sorted(path.name for path in (keras_logs / "per_batch").iterdir()) == ["train", "validation"]


def test_keras_per_batch_run_is_in_iterations(keras_logs):
    history = read_run(keras_logs / "per_batch")
    assert history.facts.style == "keras"
    assert history.facts.step_unit == "step"
    assert history.series("loss").steps == list(range(1, 9))  # Keras counts batches from 1
    assert history.series("accuracy").steps == list(range(1, 9))
    assert all(0 <= value <= 1 for value in history.series("accuracy").values)
    # validation and epoch-end values sit at the iteration each epoch ended
    assert history.val["loss"].steps == [4, 8]
    assert history.val["accuracy"].steps == [4, 8]
    assert history.series("learning_rate").steps == [4, 8]
    assert history.series("learning_rate").values == pytest.approx([0.1, 0.1])
    assert history.series("epoch_loss").steps == [4, 8]  # per-epoch mean kept under its own name
    kernel = history.histograms["weights/hidden/kernel"]
    assert [snap.step for snap in kernel] == [4, 8]
    assert kernel[0].counts.sum() == pytest.approx(8 * 4)
    assert history.histograms["weights/logits/bias"][0].counts.sum() == pytest.approx(3)
    assert history.facts.layer_order == ("hidden", "logits")
    assert "batch_loss=loss" in history.facts.tag_map
    assert history.warnings == []


def test_keras_per_epoch_run_is_in_epochs(keras_logs):
    history = read_run(keras_logs / "per_epoch")
    assert history.facts.style == "keras"
    assert history.facts.step_unit == "epoch"
    assert history.series("loss").steps == [0, 1]
    assert history.val["loss"].steps == [0, 1]
    assert history.val["accuracy"].steps == [0, 1]
    assert history.series("learning_rate").values == pytest.approx([0.1, 0.1])
    assert [snap.step for snap in history.histograms["weights/logits/kernel"]] == [0, 1]
    # iteration-stepped validation values keep their name rather than mix units
    assert history.val["evaluation_loss_vs_iterations"].steps == [4, 8]


def test_early_keras3_histograms_sharing_one_name_are_numbered_by_layer(tmp_path):
    """Keras 3.0 named each weight just `kernel`: one tag, written once per layer per epoch."""
    run = tmp_path / "old_keras"
    writer = tf.summary.create_file_writer(str(run / "train"))
    with writer.as_default():
        for epoch in range(2):
            tf.summary.scalar("epoch_loss", 1.0, step=epoch)
            for size in (12, 5):  # first layer, then second
                tf.summary.histogram("kernel/histogram", np.arange(size, dtype=np.float32), step=epoch)
    writer.close()
    history = read_run(run)
    assert history.histograms["weights/layer_1/kernel"][1].counts.sum() == pytest.approx(12)
    assert history.histograms["weights/layer_2/kernel"][1].counts.sum() == pytest.approx(5)
    assert any("layer_1..layer_2" in warning for warning in history.warnings)


# --- plain tf.summary and legacy writers ---------------------------------------------


def test_plain_tf_summary_tags_are_mapped(tmp_path):
    run = tmp_path / "plain"
    writer = tf.summary.create_file_writer(str(run))
    with writer.as_default():
        for step in range(12):
            tf.summary.scalar("training/loss", 1.0 / (step + 1), step=step)
            tf.summary.scalar("acc", 0.5, step=step)
            tf.summary.scalar("test/accuracy", 0.25, step=step)
            tf.summary.scalar("Loss/test", 0.75, step=step)
            tf.summary.scalar("gradient_norm/dense_1/kernel_0", 2.0, step=step)
            tf.summary.scalar("dense_2/kernel/grad_norm", 3.0, step=step)
            tf.summary.scalar("my/own/metric", 7.0, step=step)
            tf.summary.histogram("layer1/weights", np.ones(6), step=step)
            tf.summary.histogram("grad/dense_1/kernel", np.ones(6), step=step)
    writer.close()
    history = read_run(run)
    assert history.facts.style == "plain"
    assert len(history.series("loss")) == 12 and history.series("loss").values[0] == 1.0
    assert history.series("accuracy").values[0] == 0.5
    assert history.val["accuracy"].values[0] == 0.25
    assert history.val["loss"].values[0] == 0.75
    assert history.series("grad_norm/dense_1/kernel").values[0] == 2.0
    assert history.series("grad_norm/dense_2/kernel").values[0] == 3.0
    assert history.series("my/own/metric").values[0] == 7.0  # unknown tags stay as written
    assert set(history.histograms) == {"weights/layer1/kernel", "gradients/dense_1/kernel"}
    assert history.layers() == ["dense_1", "dense_2"]


def test_a_second_run_into_the_same_folder_is_read_as_tensorboard_shows_it(tmp_path):
    """A learner fixes a bug and runs again into one log folder: the latest run replaces the
    earlier one from the step it restarts at, and tags only the earlier run wrote are left out."""
    run = tmp_path / "notebook"
    for layers, loss, steps in ((4, 2.3, 30), (2, 0.5, 20)):  # a deeper broken net, then a fixed one
        writer = tf.summary.create_file_writer(str(run))  # a new event file, as a re-run cell makes
        with writer.as_default():
            for step in range(steps):
                tf.summary.scalar("loss", loss, step=step)
                for layer in range(layers):
                    tf.summary.scalar(f"grad_norm_w{layer}", 1.0, step=step)
                tf.summary.histogram("hidden1_activations", np.full(4, loss), step=step)
        writer.close()
        time.sleep(0.01)
    history = read_run(run)
    assert history.series("loss").steps == list(range(20)) and set(history.series("loss").values) == {0.5}
    assert {tag for tag in history.train if tag.startswith("grad_norm")} == {
        "grad_norm/w0/kernel", "grad_norm/w1/kernel"}  # layers 2 and 3 were the first run's
    # hidden1's outputs are joined to the layer they come from: w0 (w1 is the output layer).
    assert [snap.step for snap in history.histograms["activations/w0"]] == list(range(20))
    assert any("steps go back" in w for w in history.warnings) and any("earlier run" in w for w in history.warnings)


def test_two_tags_for_one_name_keep_the_second_under_its_own_name(tmp_path):
    write_scalars(tmp_path / "run", {"loss": [1.0, 2.0], "train/loss": [3.0, 4.0]})
    history = read_run(tmp_path / "run")
    assert history.series("loss").values == [1.0, 2.0]
    assert history.series("train/loss").values == [3.0, 4.0]
    assert any("train/loss also maps to loss" in warning for warning in history.warnings)


def test_legacy_simple_value_and_histogram_proto_are_read(tmp_path):
    """TF1 / PyTorch-style writers: simple_value scalars and HistogramProto histograms."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path / "torch"))
    for step, loss in enumerate([0.9, math.nan, -math.inf]):
        histogram = summary_pb2.HistogramProto(
            min=-1.0, max=2.0, num=6, sum=3.0, sum_squares=9.0, bucket_limit=[0.0, 1.0, 2.0], bucket=[1, 2, 3]
        )
        summary = summary_pb2.Summary(
            value=[
                summary_pb2.Summary.Value(tag="Loss/train", simple_value=loss),
                summary_pb2.Summary.Value(tag="Accuracy/test", simple_value=0.5),
                summary_pb2.Summary.Value(tag="fc1.weight", histo=histogram),
                summary_pb2.Summary.Value(tag="fc1.weight.grad", histo=histogram),
            ]
        )
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
    writer.close()
    history = read_run(tmp_path / "torch")
    loss = history.series("loss").values
    assert loss[0] == pytest.approx(0.9) and math.isnan(loss[1]) and loss[2] == -math.inf
    assert history.val["accuracy"].values == [0.5, 0.5, 0.5]
    snap = history.histograms["weights/fc1/kernel"][0]
    assert snap.edges.tolist() == [-1.0, 0.0, 1.0, 2.0] and snap.counts.tolist() == [1, 2, 3]
    assert len(history.histograms["gradients/fc1/kernel"]) == 3


def test_tf_function_control_flow_scopes_are_dropped(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "graph"))

    @tf.function
    def log(steps):
        with writer.as_default():
            for step in tf.range(steps, dtype=tf.int64):
                tf.summary.scalar("loss", tf.cast(step, tf.float32), step=step)
                if step % 2 == 0:
                    tf.summary.histogram("gradients/dense_1/kernel", tf.ones([4]), step=step)

    log(tf.constant(4, tf.int64))
    writer.close()
    history = read_run(tmp_path / "graph")
    assert history.series("loss").values == [0.0, 1.0, 2.0, 3.0]
    assert [snap.step for snap in history.histograms["gradients/dense_1/kernel"]] == [0, 2]
    assert "while/loss" in history.facts.raw_tags


@pytest.mark.parametrize(
    ("tag", "half", "section", "name"),
    [
        ("loss", VAL, VAL, "loss"),
        ("train/loss", TRAIN, TRAIN, "loss"),
        ("Loss/train", TRAIN, TRAIN, "loss"),
        ("val/accuracy", TRAIN, VAL, "accuracy"),
        ("test/accuracy", TRAIN, VAL, "accuracy"),
        ("val_acc", TRAIN, VAL, "accuracy"),
        ("lr", TRAIN, TRAIN, "learning_rate"),
        ("grad_norm", TRAIN, TRAIN, "grad_norm/global"),
        ("grad_norm/sequential/dense/kernel", TRAIN, TRAIN, "grad_norm/dense/kernel"),
        ("input/min", TRAIN, TRAIN, "input/min"),
        ("update_ratio/dense_1/kernel", TRAIN, TRAIN, "update_ratio/dense_1/kernel"),
    ],
)
def test_plain_scalar_mapping(tag, half, section, name):
    assert map_scalar(tag, half, PLAIN) == tag_styles.ScalarTarget(section, name)


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        ("weights/dense_1/kernel", "weights/dense_1/kernel"),
        ("dense_1/kernel/weights", "weights/dense_1/kernel"),
        ("layer1/biases", "weights/layer1/bias"),
        ("dense/kernel_0", "weights/dense/kernel"),
        ("gradients/dense_1/kernel", "gradients/dense_1/kernel"),
        ("dense_1/kernel/gradients", "gradients/dense_1/kernel"),
        ("dense_1/activations", "activations/dense_1"),
        ("cond/activations/dense_1", "activations/dense_1"),
        ("input/images", "input/images"),
    ],
)
def test_plain_histogram_mapping(tag, name):
    assert map_histogram(tag, PLAIN) == name


def test_keras_epoch_values_are_placed_at_the_iteration_the_epoch_ended():
    marks = [(1.0, 1), (2.0, 2), (3.0, 3), (3.5, 3)]
    assert tag_styles.place_at_iterations([0.5, 2.5, 3.5, 9.0], marks) == [0, 2, 3, 3]
    assert map_scalar("epoch_loss", TRAIN, KERAS, per_batch=True).name == "epoch_loss"
    assert map_scalar("epoch_loss", TRAIN, KERAS, per_batch=False).name == "loss"


# --- damaged files ------------------------------------------------------------------


def test_truncated_file_warns_naming_it_and_keeps_earlier_events(tmp_path):
    write_scalars(tmp_path / "run", {"loss": [float(i) for i in range(20)]})
    path = only_event_file(tmp_path / "run")
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # cut the last record short
    history = read_run(tmp_path / "run")
    assert history.series("loss").values == [float(i) for i in range(19)]
    (warning,) = history.warnings
    assert path.name in warning and "damaged or incomplete" in warning


def test_garbage_appended_warns_and_keeps_every_event(tmp_path):
    write_scalars(tmp_path / "run", {"loss": [1.0, 2.0, 3.0]})
    path = only_event_file(tmp_path / "run")
    with path.open("ab") as handle:
        handle.write(np.random.default_rng(1).bytes(100))
    history = read_run(tmp_path / "run")
    assert history.series("loss").values == [1.0, 2.0, 3.0]
    assert len(history.warnings) == 1 and path.name in history.warnings[0]


def test_random_bytes_named_like_an_event_file_warn_and_the_good_file_is_read(tmp_path):
    write_scalars(tmp_path / "run" / "train", {"loss": [1.0, 2.0]})
    write_scalars(tmp_path / "run" / "val", {"loss": [0.5]})
    bad = tmp_path / "run" / "val" / "events.out.tfevents.1700000000.host.1.v2"
    bad.write_bytes(np.random.default_rng(2).bytes(3000))
    history = read_run(tmp_path / "run")
    assert history.series("loss").values == [1.0, 2.0]
    assert history.val["loss"].values == [0.5]
    (warning,) = history.warnings
    assert warning.startswith("val/events.out.tfevents.1700000000.host.1.v2:")


def test_a_run_of_only_damaged_files_is_an_empty_history_with_warnings(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "events.out.tfevents.1.junk").write_bytes(b"\x01" * 50)
    (tmp_path / "run" / "events.out.tfevents.2.empty").write_bytes(b"")  # just opened by a writer: fine
    history = read_run(tmp_path / "run")
    assert history.train == {} and history.histograms == {}
    assert len(history.warnings) == 2 and "events.out.tfevents.1.junk" in history.warnings[0]
    assert "no values" in history.warnings[1]


# --- folders and runs ---------------------------------------------------------------


def test_missing_empty_or_eventless_folders_raise_one_line_log_errors(tmp_path):
    cases = {tmp_path / "missing": "no such log folder", tmp_path / "empty": "empty log folder"}
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hi")
    cases[tmp_path / "notes"] = "no TensorBoard event files"
    for folder, message in cases.items():
        with pytest.raises(LogError, match=message) as error:
            read_run(folder)
        assert "\n" not in str(error.value) and str(folder) in str(error.value)
    with pytest.raises(LogError, match="no TensorBoard event files under"):
        read_all(tmp_path / "empty")
    with pytest.raises(LogError, match="no such log folder"):
        read_all(tmp_path / "missing")


def test_find_runs_treats_train_and_validation_folders_as_one_run(tmp_path, tblab_run):
    root = tmp_path / "logs"
    shutil.copytree(tblab_run, root / "fail2" / "run1")
    write_scalars(root / "keras" / "fit" / "train", {"epoch_loss": [1.0]})
    write_scalars(root / "keras" / "fit" / "validation", {"epoch_loss": [2.0]})
    write_scalars(root / "plain" / "a", {"loss": [1.0]})
    write_scalars(root / "plain" / "a" / "nested", {"loss": [1.0]})
    (root / "notes").mkdir()
    expected = [root / "fail2" / "run1", root / "keras" / "fit", root / "plain" / "a", root / "plain" / "a" / "nested"]
    assert find_runs(root) == expected
    histories = read_all(root)
    assert [h.run for h in histories] == ["fail2/run1", "keras/fit", "plain/a", "plain/a/nested"]
    keras_run = histories[1]
    assert keras_run.series("loss").values == [1.0] and keras_run.val["loss"].values == [2.0]
    assert keras_run.facts.step_unit == "epoch"
    assert find_runs(root / "plain" / "a") == [root / "plain" / "a", root / "plain" / "a" / "nested"]


def test_a_keras_run_without_validation_is_still_one_run(tmp_path):
    write_scalars(tmp_path / "fit" / "train", {"epoch_loss": [1.0, 0.5]})
    assert find_runs(tmp_path) == [tmp_path / "fit"]
    assert read_run(tmp_path / "fit").series("loss").values == [1.0, 0.5]


# --- speed ----------------------------------------------------------------------------


def write_large_tblab_run(run: Path, steps: int = 2000, tags: int = 50, histogram_every: int = 50) -> None:
    """tblab's volume: ~50 scalar tags every step, 9 histograms every 50 steps (written in-graph)."""
    names = ["loss", "accuracy", "grad_norm/global", "nonfinite/count"]
    names += [f"grad_norm/dense_{i}/kernel" for i in range(tags - len(names))]
    histograms = [f"{kind}/{layer}/kernel" for kind in ("weights", "gradients") for layer in ("dense_1", "dense_2", "output")]
    histograms += ["activations/dense_1", "activations/dense_2", "activations/output"]
    writer = tf.summary.create_file_writer(str(run / "train"))

    @tf.function
    def log(count):
        with writer.as_default():
            for step in tf.range(count, dtype=tf.int64):
                value = tf.cast(step, tf.float32)
                for index, name in enumerate(names):
                    tf.summary.scalar(name, value + index, step=step)
                if step % histogram_every == 0:
                    for name in histograms:
                        tf.summary.histogram(name, tf.random.normal([10_000]), step=step)

    log(tf.constant(steps, tf.int64))
    writer.close()
    write_scalars(run / "val", {"loss": [1.0] * (steps // 100), "accuracy": [0.9] * (steps // 100)})


@pytest.mark.slow
def test_reading_a_2000_step_tblab_run_takes_well_under_a_few_seconds(tmp_path):
    write_large_tblab_run(tmp_path / "big")
    read_run(tmp_path / "big", max_histograms_per_tag=1)  # warm up: the first read imports TensorFlow
    started, cpu_started = time.perf_counter(), time.process_time()
    history = read_run(tmp_path / "big")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    size_mb = sum(p.stat().st_size for p in (tmp_path / "big").rglob("*") if p.is_file()) / 1e6
    print(f"\nread 2000 steps x 50 scalars + 9x40 histograms ({size_mb:.1f} MB): {seconds:.2f} s, cpu {cpu_seconds:.2f} s")
    assert len(history.series("loss")) == 2000 and len(history.train) == 50
    assert len(history.histograms["weights/dense_1/kernel"]) == 40
    assert cpu_seconds < 3.0  # CPU time: the CI's 2 cores are shared, wall time is not ours alone

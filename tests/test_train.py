"""Instrumented training: records, event files TensorBoard can read, NaN safety, stop, determinism."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

from core.runs.recipe import record_run
from core.schema.config import RunConfig
from core.system.rundir import RunError
from core.train.loop import train
from tests.helpers import tiny_mnist

SMALL = RunConfig(hidden_layers=2, hidden_units=16, steps=30, batch_size=32, histogram_every=10, image_every=20, eval_every=10)
KEEP_ALL = {"scalars": 0, "tensors": 0, "histograms": 0, "images": 0, "compressedHistograms": 0}


def read(path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def data():
    return tiny_mnist()


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    records, evals, images = [], [], []
    logdir = tmp_path_factory.mktemp("logs") / "run"
    result = record_run(
        SMALL, data=data, logdir=logdir,
        on_step=records.append, on_eval=lambda s, v: evals.append((s, v)), on_images=lambda s, x: images.append((s, x)),
    )
    return result, records, evals, images


def test_every_step_yields_a_record_of_plain_floats(run):
    result, records, _, _ = run
    assert [r.step for r in records] == list(range(30))
    scalars = records[0].scalars
    assert all(isinstance(v, float) for v in scalars.values())
    for tag in ("loss", "accuracy", "grad_norm/global", "grad_norm/dense_1/kernel", "weight_norm/output/bias",
                "update_ratio/dense_2/kernel", "activation_mean/dense_1", "activation_std/dense_2",
                "dead_fraction/dense_1", "input/min", "input/max", "input/mean", "input/std", "nonfinite/count"):
        assert tag in scalars, tag
    assert scalars["input/min"] >= 0 and scalars["input/max"] <= 1
    assert result.steps_done == 30 and not result.stopped and result.first_nonfinite_step is None


def test_update_ratio_matches_sgd_arithmetic(run):
    """For plain SGD |update| = lr * |grad|, so the ratio is lr * grad_norm / old weight_norm."""
    _, records, _, _ = run
    first, second = records[0].scalars, records[1].scalars
    expected = SMALL.learning_rate * second["grad_norm/dense_1/kernel"] / first["weight_norm/dense_1/kernel"]
    assert second["update_ratio/dense_1/kernel"] == pytest.approx(expected, rel=1e-3)


def test_it_learns_the_tiny_task(run):
    result, records, evals, _ = run
    assert records[-1].scalars["loss"] < records[0].scalars["loss"]
    assert [s for s, _ in evals] == [0, 10, 20, 29]
    assert result.test_accuracy == evals[-1][1]["accuracy"] > 0.5


def test_images_come_as_the_model_sees_them(run):
    _, _, _, images = run
    assert [s for s, _ in images] == [0, 10, 20]
    assert images[0][1].shape == (8, 28, 28) and images[0][1].max() <= 1.0


def test_event_files_hold_tags_steps_histograms_images_and_text(run):
    result, _, _, _ = run
    train_events = read(result.logdir / "train")
    tags = train_events.Tags()
    loss_steps = [e.step for e in train_events.Tensors("loss")]
    assert loss_steps == list(range(30))
    assert "grad_norm/dense_1/kernel" in tags["tensors"]
    hist_steps = [e.step for e in train_events.Tensors("weights/dense_1/kernel")]
    assert hist_steps == [0, 10, 20]
    assert {"gradients/output/kernel", "activations/dense_2", "config", "data_source", "input/images"} <= set(tags["tensors"])
    assert [e.step for e in train_events.Tensors("input/images")] == [0, 20]
    val = read(result.logdir / "val")
    assert [e.step for e in val.Tensors("accuracy")] == [0, 10, 20, 29]


def test_same_seed_same_run(data):
    first = record_run(SMALL.replace(steps=15), data=data)
    second = record_run(SMALL.replace(steps=15), data=data)
    assert first.history.series("loss").values == second.history.series("loss").values
    other = record_run(SMALL.replace(steps=15, seed=1), data=data)
    assert other.history.series("loss").values != first.history.series("loss").values


def test_nan_run_neither_crashes_nor_writes_nonfinite_histograms(data, tmp_path):
    blowup = SMALL.replace(hidden_layers=6, normalization="raw", init="uniform(-1,1)", learning_rate=1.0, steps=25)
    result = record_run(blowup, data=data, logdir=tmp_path / "nan")
    assert result.first_nonfinite_step is not None and result.first_nonfinite_step < 25
    assert result.steps_done == 25
    counts = result.history.series("nonfinite/count").values
    assert counts[result.first_nonfinite_step] > 0 and counts[0] == 0
    events = read(tmp_path / "nan" / "train")
    dropped = [float(make_ndarray(e.tensor_proto)) for e in events.Tensors("nonfinite/histogram_dropped")]
    assert max(dropped) > 0
    for tag in events.Tags()["tensors"]:
        if tag.startswith(("weights/", "gradients/", "activations/")):
            for event in events.Tensors(tag):
                buckets = make_ndarray(event.tensor_proto)
                assert np.all(np.isfinite(buckets)), (tag, event.step)


def test_stop_on_nonfinite(data):
    blowup = SMALL.replace(hidden_layers=6, normalization="raw", init="uniform(-1,1)", learning_rate=1.0, steps=25, stop_on_nonfinite=True)
    result = record_run(blowup, data=data)
    assert result.stopped and result.steps_done == result.first_nonfinite_step + 1


def test_stop_request_is_honoured_within_a_block_and_files_are_closed(data, tmp_path):
    stop = threading.Event()

    def on_step(record):
        if record.step == 5:
            stop.set()

    result = record_run(SMALL.replace(steps=1000), data=data, logdir=tmp_path / "stopped", on_step=on_step, stop=stop)
    # The block holding step 5 has run, so its steps are recorded; blocks end at step 10 (histogram_every).
    assert result.stopped and 6 <= result.steps_done <= 11
    assert [e.step for e in read(tmp_path / "stopped" / "train").Tensors("loss")] == list(range(result.steps_done))
    assert math.isfinite(result.test_accuracy)


def test_stop_takes_effect_at_the_end_of_the_running_block(data):
    stop = threading.Event()
    records = []

    def on_step(record):
        records.append(record.step)
        if record.step == 5:
            stop.set()

    result = train(SMALL.replace(steps=1000), data=data, on_step=on_step, stop=stop, steps_per_call=4)
    assert result.stopped and result.steps_done == 9 and records == list(range(9))  # blocks [0] [1-4] [5-8]
    result = train(SMALL.replace(steps=1000), data=data, on_step=on_step, stop=stop, steps_per_call=1)
    assert result.steps_done == 0  # already set: no step runs


def test_steps_per_call_does_not_change_a_single_number(data):
    """The same fixed-seed run stepped 1, 7 and an adaptive number of steps per call: identical
    records (losses included, bit for bit), evals, snapshot steps, histograms and images."""
    config = SMALL.replace(steps=45, optimizer="adam", learning_rate=0.01, input_noise_std=0.3, eval_every=15)

    def run(steps_per_call):
        snapshots, evals = [], []
        result = train(config, data=data, on_snapshot=snapshots.append, on_eval=lambda s, v: evals.append((s, v)),
                       steps_per_call=steps_per_call)
        return result, snapshots, evals

    one, seven, adaptive = run(1), run(7), run(None)
    for result, snapshots, evals in (seven, adaptive):
        assert {t: s.values for t, s in result.history.train.items()} == {t: s.values for t, s in one[0].history.train.items()}
        assert evals == one[2] and [s for s, _ in evals] == [0, 15, 30, 44]
        assert [s.step for s in snapshots] == [s.step for s in one[1]] == [0, 10, 20, 30, 40]
        for got, want in zip(snapshots, one[1]):
            assert got.histograms.keys() == want.histograms.keys() and got.dropped == want.dropped
            assert all(np.array_equal(got.histograms[t], want.histograms[t]) for t in got.histograms)
            assert np.array_equal(got.images, want.images)


def test_stop_on_nonfinite_ends_the_block_at_the_first_nonfinite_step(data):
    blowup = SMALL.replace(hidden_layers=6, normalization="raw", init="uniform(-1,1)", learning_rate=1.0, steps=25,
                           stop_on_nonfinite=True, histogram_every=100, eval_every=100)
    records = []
    result = train(blowup, data=data, on_step=records.append, steps_per_call=20)
    first = result.first_nonfinite_step
    assert first is not None and 0 < first < 19  # inside the block [1-20]
    assert result.stopped and result.steps_done == first + 1 and [r.step for r in records] == list(range(first + 1))
    assert records[-1].scalars["nonfinite/count"] > 0 and records[-2].scalars["nonfinite/count"] == 0


def test_snapshot_is_the_steps_own_pass_and_the_weights_it_produced(data):
    """Recomputed eagerly from the weights before the step, on the same batch: the gradients
    and activations histograms are the step's, the weights histograms are after its update."""
    import tensorflow as tf

    from core.data.pipeline import make_datasets
    from core.train.block import StepBlocks
    from core.train.model import build, forward, loss_fn, variables

    config = SMALL.replace(histogram_every=3)
    indices = np.arange(config.batch_size, dtype=np.int32) * 3
    ds = replace(make_datasets(config, data), train_indices=tf.data.Dataset.from_tensors(indices).repeat())
    layers = build(config)
    blocks = StepBlocks(config, ds, layers, snapshots=True)
    blocks.run(3)  # steps 0-2
    named = variables(layers)
    before = [var.numpy() for _, var in named]
    x, y = tf.gather(ds.x_train, indices), tf.gather(ds.y_train, indices)
    with tf.GradientTape() as tape:
        fwd = forward(layers, x, config.activation)
        loss = loss_fn(fwd.logits, y, config.softmax_before_loss)
    grads = tape.gradient(loss, [var for _, var in named])
    records, snapshot = blocks.run(1)  # step 3, a snapshot step
    assert [r.step for r in records] == [3] and snapshot.step == 3
    assert records[0].scalars["loss"] == pytest.approx(float(loss), rel=1e-6)
    expected = {}
    for (name, var), grad, old in zip(named, grads, before):
        assert not np.array_equal(var.numpy(), old)  # the step moved the weights
        expected[f"weights/{name}"], expected[f"gradients/{name}"] = var.numpy(), grad.numpy()
    for layer, activation in zip(layers, fwd.activations):
        expected[f"activations/{layer.name}"] = activation.numpy()
    assert set(snapshot.histograms) == set(expected)
    for tag, values in expected.items():
        counts, edges = np.histogram(values.astype(np.float64), bins=30)
        got = snapshot.histograms[tag]
        np.testing.assert_allclose(got[:, 0], edges[:-1], rtol=1e-5, atol=1e-7, err_msg=tag)
        assert abs(got[:, 2] - counts).sum() <= 2, tag  # a value on a bucket edge may land either side
    np.testing.assert_array_equal(snapshot.images, x.numpy()[:8].reshape(-1, 28, 28))


def test_block_end_stops_at_cadences_and_the_last_step():
    from core.train.pacing import block_end

    assert block_end(0, 50, 2000, (100, 50)) == 0
    assert block_end(1, 50, 2000, (100, 50)) == 50
    assert block_end(1, 8, 2000, (100, 50)) == 8
    assert block_end(51, 200, 2000, (100,)) == 100
    assert block_end(1990, 50, 2000, (100,)) == 1999
    assert block_end(7, 1, 2000, (3,)) == 7


def test_pacer_aims_at_the_block_time_grows_at_most_2x_and_shrinks_at_once():
    from core.train.pacing import BlockPacer

    pacer = BlockPacer(target_seconds=0.05, most=200)
    assert pacer.size == 1
    sizes = []
    for _ in range(8):
        pacer.observe(pacer.size, pacer.size * 0.001)  # 1 ms steps: 50 fit in 0.05 s
        sizes.append(pacer.size)
    assert sizes == [2, 4, 8, 16, 32, 50, 50, 50]
    pacer.observe(50, 50 * 0.01)  # steps got 10x slower
    assert pacer.size == 5
    pacer.observe(1, 1.0)  # a step slower than the target: one step per block
    assert pacer.size == 1
    fixed = BlockPacer(fixed=7)
    fixed.observe(7, 100.0)
    assert fixed.size == 7
    with pytest.raises(ValueError):
        BlockPacer(fixed=0)


def test_unwritable_logdir_is_a_one_line_error(data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunError, match="cannot write logs to"):
        record_run(SMALL, data=data, logdir=blocker / "run")


@pytest.mark.parametrize(
    "changes, tag",
    [
        ({"activation": "sigmoid"}, "saturated_fraction/dense_1"),
        ({"activation": "tanh", "optimizer": "adam", "learning_rate": 0.01}, "saturated_fraction/dense_2"),
        ({"optimizer": "momentum", "learning_rate": 0.01, "softmax_before_loss": True}, "dead_fraction/dense_2"),
    ],
)
def test_other_activations_and_optimizers_train(data, changes, tag):
    result = record_run(SMALL.replace(steps=20, **changes), data=data)
    assert tag in result.history.train and result.first_nonfinite_step is None
    assert result.history.series("loss").values[-1] < result.history.series("loss").values[0]


def test_histograms_match_numpy_per_tensor_and_drop_nonfinite():
    from core.train.histograms import histogram_buckets_in_graph

    rng = np.random.default_rng(0)
    normal = rng.normal(size=5000).astype(np.float32)
    wide = (rng.uniform(-50, 3, size=(40, 30))).astype(np.float32)
    with_nan = np.array([1.0, np.nan, 3.0, np.inf, -np.inf, 2.0], np.float32)
    flat_tensors = [np.full(7, 2.0, np.float32), np.full(3, 3e8, np.float32), np.zeros(0, np.float32)]
    # Without the NaN tensor no value is masked: the other of the two ways of counting.
    for tensors, nonfinite in (([normal, wide, with_nan, *flat_tensors], 3), ([normal, wide, *flat_tensors], 0)):
        buckets, dropped = histogram_buckets_in_graph(tensors)
        buckets = buckets.numpy()
        assert buckets.shape == (len(tensors), 30, 3) and dropped.numpy() == nonfinite
        for got, values in zip(buckets, (normal, wide)):
            counts, edges = np.histogram(values.astype(np.float64), bins=30)
            np.testing.assert_allclose(got[:, 0], edges[:-1], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(got[:, 1], edges[1:], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(got[:, 2], counts)
        twos, huge, empty = buckets[-3:]
        assert twos[15, 2] == 7 and twos[:, 2].sum() == 7 and twos[0, 0] == 1.5 and twos[-1, 1] == 2.5
        assert huge[15, 2] == 3 and huge[:, 2].sum() == 3 and huge[0, 0] == 3e8 - 0.5
        assert empty[:, 2].sum() == 0 and np.all(np.isfinite(buckets))
    finite_of_nan = histogram_buckets_in_graph([with_nan])[0].numpy()[0]
    # 2.0 lies exactly on the edge between buckets 14 and 15: rounding may count it in either.
    assert finite_of_nan[0, 0] == 1.0 and finite_of_nan[-1, 1] == 3.0
    assert finite_of_nan[0, 2] == 1 and finite_of_nan[-1, 2] == 1 and finite_of_nan[14:16, 2].sum() == 1


def test_scalar_block_bytes_are_the_summary_tensorboard_reads():
    from tensorboard.compat.proto.summary_pb2 import Summary

    from core.tensorboard.summaries import ScalarBlock

    block = ScalarBlock(["loss", "grad_norm/dense_1/kernel", "nonfinite/count"])
    first = Summary.FromString(block.serialise([2.5, np.nan, -np.inf]))
    later = Summary.FromString(block.serialise(np.array([1.0, 1e-30, 3.0], np.float32)))
    assert [v.tag for v in first.value] == block.names == [v.tag for v in later.value]
    assert first.value[0].metadata.plugin_data.plugin_name == "scalars" and not later.value[0].HasField("metadata")
    assert float(make_ndarray(first.value[0].tensor)) == 2.5 and math.isnan(make_ndarray(first.value[1].tensor))
    assert float(make_ndarray(first.value[2].tensor)) == -math.inf
    assert [float(make_ndarray(v.tensor)) for v in later.value] == [1.0, np.float32(1e-30), 3.0]


def test_histogram_block_bytes_are_the_summary_tensorboard_reads():
    from tensorboard.compat.proto.summary_pb2 import Summary

    from core.tensorboard.summaries import HistogramBlock

    block = HistogramBlock(["weights/dense_1/kernel", "gradients/output/bias"], 30)
    buckets = np.random.default_rng(0).normal(size=(2, 30, 3))
    first, later = (Summary.FromString(block.serialise(b)) for b in (buckets, buckets[::-1]))
    assert first.value[0].metadata.plugin_data.plugin_name == "histograms" and not later.value[0].HasField("metadata")
    assert [v.tag for v in first.value] == block.names == [v.tag for v in later.value]
    for summary, want in ((first, buckets), (later, buckets[::-1])):
        assert all(np.array_equal(make_ndarray(v.tensor), rows) for v, rows in zip(summary.value, want))


def test_input_images_are_the_pngs_tensorflow_would_encode():
    import tensorflow as tf
    from tensorboard.compat.proto.summary_pb2 import Summary

    from core.tensorboard.summaries import images_summary

    images = np.random.default_rng(0).uniform(-0.1, 1.1, size=(3, 28, 28, 1)).astype(np.float32)
    images[0, :2, :2, 0] = [[0.0, 1.0], [0.5, 1 / 255]]
    (value,) = Summary.FromString(images_summary("input/images", images)).value
    width, height, *pngs = value.tensor.string_val
    assert (width, height, len(pngs)) == (b"28", b"28", 3) and value.metadata.plugin_data.plugin_name == "images"
    want = tf.image.convert_image_dtype(tf.constant(images), tf.uint8, saturate=True).numpy()
    assert np.array_equal(np.stack([tf.io.decode_png(png).numpy() for png in pngs]), want)


def test_event_bytes_parse_as_tensorflow_events():
    from tensorboard.compat.proto.event_pb2 import Event

    from core.tensorboard.eventfile import event_bytes

    for step in (0, 1, 127, 128, 300_000, 2**40):
        event = Event.FromString(event_bytes(step, 1795798773.5, b"\x0a\x03\x0a\x01x"))
        assert (event.step, event.wall_time, [v.tag for v in event.summary.value]) == (step, 1795798773.5, ["x"])


def test_event_file_starts_with_the_version_and_holds_crc_checked_records(tmp_path):
    import tensorflow as tf
    from tensorboard.compat.proto.event_pb2 import Event

    from core.tensorboard.eventfile import EventFile

    events = EventFile(tmp_path / "train")
    events.write(3, b"\x0a\x03\x0a\x01x")
    events.close()
    assert "tfevents" in events.path.name
    records = [Event.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(events.path))]  # checks the CRCs
    assert records[0].file_version == "brain.Event:2"
    assert (records[1].step, records[1].summary.value[0].tag) == (3, "x")

"""The input pipeline: ranges, dtypes, shapes, every example once per epoch, normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.pipeline import index_batches, make_datasets, normalize
from core.schema.config import RunConfig
from tests.helpers import tiny_mnist


def test_every_example_once_per_epoch_in_a_fresh_order():
    n, batch = 100, 16
    batches = [b.numpy() for b in index_batches(n, batch, seed=3).take(2 * 7)]  # ceil(100/16) = 7 per epoch
    epochs = [np.concatenate(batches[:7]), np.concatenate(batches[7:])]
    for epoch in epochs:
        assert sorted(epoch.tolist()) == list(range(n))
    assert epochs[0].tolist() != epochs[1].tolist()
    assert [len(b) for b in batches[:7]] == [16] * 6 + [4]
    assert batches[0].dtype == np.int32


@pytest.mark.parametrize("mode, low, high", [("raw", 0, 255), ("unit", 0, 1), ("standard", -1, 10)])
def test_normalisation_ranges(mode, low, high):
    mnist = tiny_mnist()
    x = normalize(mnist.x_train, mode, mnist.x_train)
    assert x.dtype == np.float32 and x.shape == (512, 784)
    assert x.min() >= low and x.max() <= high
    if mode == "standard":
        assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-3
    else:
        assert x.max() == high


def test_datasets_hold_float32_images_and_int32_labels():
    ds = make_datasets(RunConfig(), tiny_mnist())
    assert ds.x_train.dtype.name == "float32" and ds.y_train.dtype.name == "int32"
    assert ds.x_train.shape == (512, 784) and ds.x_test.shape == (256, 784)
    assert float(ds.x_train.numpy().max()) == 1.0
    first = next(iter(ds.train_indices))
    assert first.shape == (128,)


def test_shuffled_labels_keep_the_label_counts_but_not_the_pairing():
    mnist = tiny_mnist()
    ds = make_datasets(RunConfig(shuffle_labels=True), mnist)
    labels = ds.y_train.numpy()
    assert sorted(labels.tolist()) == sorted(mnist.y_train.tolist())
    assert (labels == mnist.y_train).mean() < 0.3


def test_the_index_stream_has_no_autotune_thread_to_wait_for():
    """tf.data autotuning gives each iterator a model thread; freeing such an iterator (by the
    garbage collector, in whatever run or test comes next) waited out that thread's sleep,
    10-60 s once a worker pool had run (test_stop_on_nonfinite took 62 s in the suite)."""
    stream = index_batches(100, 16, seed=3)
    assert stream.options().autotune.enabled is False
    assert [len(b) for b in stream.take(2)] == [16, 16]  # and it still streams, a batch ahead

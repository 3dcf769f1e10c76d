"""The training input pipeline: MNIST held as float32 tensors, and a tf.data stream of
shuffled index batches that the compiled step gathers from.

Gathering inside the step runs ~3x faster than the classic
`from_tensor_slices -> shuffle(60000) -> batch(128)` pipeline on this machine
(bench/pipeline_speed.py), and it is still shuffle -> batch -> repeat: every
example once per epoch, a fresh order each epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from core.schema.config import RunConfig

PIXEL_MAX = 255.0
PREFETCHED_BATCHES = 2  # index batches are a few hundred bytes: two ahead keep the step fed
# No tf.data autotuning: its model thread, one per iterator, made freeing an iterator wait
# out that thread's sleep (measured 10-60 s in a process that had run a worker pool), and an
# iterator is freed by the garbage collector, in whatever run or lab frame comes later.
_WITHOUT_AUTOTUNE = tf.data.Options()
_WITHOUT_AUTOTUNE.autotune.enabled = False


@dataclass(frozen=True)
class Datasets:
    x_train: tf.Tensor  # float32 [N, 784], normalised as the config asks
    y_train: tf.Tensor  # int32 [N]
    x_test: tf.Tensor
    y_test: tf.Tensor
    train_indices: tf.data.Dataset  # int32 index batches, endless
    source: str


def normalize(images: np.ndarray, mode: str, train_images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32: 'raw' 0-255, 'unit' [0, 1], 'standard' zero mean / unit std.

    'standard' uses one mean and std over all training pixels: per-pixel std is zero
    at the always-black border and would divide by zero.
    """
    x = images.astype(np.float32)
    if mode == "raw":
        return x
    x /= PIXEL_MAX
    if mode == "unit":
        return x
    scaled = train_images.astype(np.float32) / PIXEL_MAX
    return (x - scaled.mean()) / scaled.std()


def index_batches(n: int, batch_size: int, seed: int) -> tf.data.Dataset:
    """shuffle -> batch -> repeat over example indices, reshuffled every epoch."""
    return (
        # int32 from the source: a per-example cast before shuffle(n) re-runs over the whole
        # buffer at every epoch start (3 s to the first batch at n = 60000, against 0.08 s).
        tf.data.Dataset.range(n, output_type=tf.int32)
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
        .prefetch(PREFETCHED_BATCHES)
        .with_options(_WITHOUT_AUTOTUNE)
    )


def make_datasets(config: RunConfig, mnist) -> Datasets:
    """Tensors and the index stream for one run; `mnist` is a core.data.mnist.Mnist."""
    y_train = mnist.y_train.astype(np.int32)
    if config.shuffle_labels:
        y_train = np.random.default_rng(config.seed + 1).permutation(y_train)
    return Datasets(
        x_train=tf.constant(normalize(mnist.x_train, config.normalization, mnist.x_train)),
        y_train=tf.constant(y_train),
        x_test=tf.constant(normalize(mnist.x_test, config.normalization, mnist.x_train)),
        y_test=tf.constant(mnist.y_test.astype(np.int32)),
        train_indices=index_batches(len(y_train), config.batch_size, config.seed),
        source=mnist.source,
    )

"""The compiled training block: up to K SGD steps in one call of a tf.function.

Calling a tf.function from Python costs about a millisecond of dispatch, more than a
step's arithmetic for an MNIST MLP; so the steps of a block run in an in-graph
`tf.while_loop` and come back as one [steps, statistics] array. Every step is still a
StepRecord of its own, and a step's numbers do not depend on K: every step, K = 1
included, runs the same loop body.

The snapshot (histograms of weights, gradients and activations, and the first inputs)
is taken in-graph at steps that are multiples of `histogram_every`, from the step's own
forward/backward pass and the weights that step produced: no second pass. The caller
(core.train.loop) ends blocks at snapshot steps, so a snapshot step is always the last of
its block, and the loop carries the latest step's tensors out to it. With
`stop_on_nonfinite` a block ends at its first non-finite step.
"""

from __future__ import annotations

import tensorflow as tf

from core.data.pipeline import Datasets
from core.schema.config import RunConfig
from core.schema.history import Snapshot, StepRecord
from core.schema.tags import (
    ACTIVATIONS, GRADIENTS, HISTOGRAM_BUCKETS, IMAGE_SIDE, IMAGES_SHOWN, INPUT_DIM, LOSS, NONFINITE_COUNT, WEIGHTS, layer_tag,
)
from core.train.histograms import histogram_buckets_in_graph
from core.train.instrument import gradient_norms, l2_norms, statistic_names, step_row
from core.train.model import Dense, forward, loss_fn, variables
from core.train.optim import Optimizer


class StepBlocks:
    """Runs the next `n` steps of one run per call of `run(n)`."""

    def __init__(self, config: RunConfig, ds: Datasets, layers: list[Dense], *, snapshots: bool):
        self.config, self.ds, self.layers, self.snapshots = config, ds, layers, snapshots
        named = variables(layers)
        self.var_names = [name for name, _ in named]
        self.train_vars = [var for _, var in named]
        self.optimizer = Optimizer(config.optimizer, config.learning_rate, self.train_vars)
        self.histogram_tags = (
            [layer_tag(kind, name) for name in self.var_names for kind in (WEIGHTS, GRADIENTS)]
            + [layer_tag(ACTIVATIONS, layer.name) for layer in layers[:-1]]  # hidden layers
        )
        self.stat_names = statistic_names(config.activation, [layer.name for layer in layers[:-1]], self.var_names)
        self.next_step = 0
        self.step_counter = tf.Variable(0, dtype=tf.int64, trainable=False)  # no per-call host->device step copy
        self.indices = iter(ds.train_indices)
        # Explicit control flow (autograph=False): the loop is a tf.while_loop, written out.
        self._run_block = tf.function(self._block, input_signature=[tf.TensorSpec([], tf.int32)], autograph=False)

    # --- in-graph: traced once into _run_block ----------------------------------------------------
    def _batch(self, indices, step):
        config, ds = self.config, self.ds
        x = tf.gather(ds.x_train, indices)
        if config.input_noise_std > 0:
            # Stateless noise keyed by (seed, step): reproducible whatever the block sizes.
            seed = tf.stack([tf.constant(config.seed, tf.int64), step])
            x += config.input_noise_std * tf.random.stateless_normal(tf.shape(x), seed=seed)
        return x, tf.gather(ds.y_train, indices)

    def _one_step(self, step, weight_norms_before):
        """One SGD step on the iterator's next batch: its statistics row, the weights'
        norms after it, and what a snapshot of it needs (gradients, activations, first inputs)."""
        config, train_vars = self.config, self.train_vars
        x, y = self._batch(next(self.indices), step)
        with tf.GradientTape() as tape:
            fwd = forward(self.layers, x, config.activation)
            loss = loss_fn(fwd.logits, y, config.softmax_before_loss)
        grads = tape.gradient(loss, train_vars)
        grad_norms, grad_norm_global = gradient_norms(grads)
        update_norms = l2_norms(self.optimizer.apply(grads, train_vars))
        row, weight_norms = step_row(
            activation=config.activation, layers=self.layers, names=self.var_names, x=x, labels=y, fwd=fwd, loss=loss,
            grads=grads, grad_norms=grad_norms, grad_norm_global=grad_norm_global,
            weights=[var.read_value() for var in train_vars], weight_norms_before=weight_norms_before,
            update_norms=update_norms,
        )
        if not self.snapshots:
            return row, weight_norms, ()
        return row, weight_norms, (grads, list(fwd.activations), x[:IMAGES_SHOWN])

    def _snapshot(self, last):
        """Buckets in `histogram_tags` order (weights as they are now, after the step), the
        non-finite values they left out, the first inputs and how many there are."""
        grads, activations, images = last
        weights = [var.read_value() for var in self.train_vars]
        buckets, dropped = histogram_buckets_in_graph([t for pair in zip(weights, grads) for t in pair] + activations)
        rows = tf.shape(images)[0]  # a batch may be smaller than IMAGES_SHOWN
        padded = tf.reshape(tf.pad(images, [[0, IMAGES_SHOWN - rows], [0, 0]]), [IMAGES_SHOWN, INPUT_DIM])
        return tf.reshape(buckets, [len(self.histogram_tags), HISTOGRAM_BUCKETS, 3]), dropped, padded, rows

    def _no_snapshot(self, _last=None):
        return (
            tf.zeros([len(self.histogram_tags), HISTOGRAM_BUCKETS, 3], tf.float64),
            tf.zeros([], tf.float32), tf.zeros([IMAGES_SHOWN, INPUT_DIM], tf.float32), tf.zeros([], tf.int32),
        )

    def _carried(self) -> tuple[tuple, tuple]:
        """The latest step's tensors the loop carries out for the snapshot after it (none
        without snapshots), and their shape invariants."""
        if not self.snapshots:
            return (), ()
        hidden = [layer.kernel.shape[1] for layer in self.layers[:-1]]
        last = ([tf.zeros_like(var) for var in self.train_vars], [tf.zeros([0, n]) for n in hidden], tf.zeros([0, INPUT_DIM]))
        # Batch rows vary (an epoch's last batch is smaller): no padding copies, a looser shape.
        shapes = ([var.shape for var in self.train_vars], [tf.TensorShape([None, n]) for n in hidden],
                  tf.TensorShape([None, INPUT_DIM]))
        return last, shapes

    def _block(self, steps):
        """`steps` steps (fewer if one goes non-finite under stop_on_nonfinite): their
        statistics stacked [done, S], and the snapshot parts of the last one (zeros
        unless it is a snapshot step)."""
        config = self.config
        start = self.step_counter.read_value()
        last, last_shapes = self._carried()
        loss_at, nonfinite_at = self.stat_names.index(LOSS), self.stat_names.index(NONFINITE_COUNT)

        def body(i, _ended, rows, weight_norms, _last):
            row, weight_norms, last = self._one_step(start + tf.cast(i, tf.int64), weight_norms)
            bad = tf.logical_or(row[nonfinite_at] > 0, tf.logical_not(tf.math.is_finite(row[loss_at])))
            ended = tf.logical_and(bad, config.stop_on_nonfinite)
            return i + 1, ended, rows.write(i, row), weight_norms, last

        # Each step's weight norms are the next one's norms before its update: carried, not recomputed.
        norms = l2_norms([var.read_value() for var in self.train_vars])
        done, _, rows, _, last = tf.while_loop(
            lambda i, ended, *_: tf.logical_and(i < steps, tf.logical_not(ended)),
            body,
            (tf.constant(0), tf.constant(False), tf.TensorArray(tf.float32, size=0, dynamic_size=True), norms, last),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([]), tf.TensorShape(None), norms.shape, last_shapes),
        )
        self.step_counter.assign_add(tf.cast(done, tf.int64))
        if not self.snapshots:
            return rows.stack(), self._no_snapshot()
        # Once per block, not per step: a tf.cond in the loop cost 8% of a step even untaken.
        last_step = start + tf.cast(done, tf.int64) - 1
        take = tf.logical_and(done > 0, tf.equal(last_step % config.histogram_every, 0))
        return rows.stack(), tf.cond(take, lambda: self._snapshot(last), lambda: self._no_snapshot(last))

    # --- from Python ---------------------------------------------------------------------------------
    def run(self, steps: int) -> tuple[list[StepRecord], Snapshot | None]:
        """The next `steps` steps as records, and the snapshot if the last one done is a
        snapshot step."""
        rows, (buckets, dropped, images, image_rows) = self._run_block(tf.constant(steps, tf.int32))
        first = self.next_step
        records = [StepRecord(first + i, dict(zip(self.stat_names, values))) for i, values in enumerate(rows.numpy().tolist())]
        self.next_step += len(records)
        last = self.next_step - 1
        if not (self.snapshots and records and last % self.config.histogram_every == 0):
            return records, None
        shown = images.numpy()[: int(image_rows)].reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
        return records, Snapshot(last, dict(zip(self.histogram_tags, buckets.numpy())), float(dropped), shown)

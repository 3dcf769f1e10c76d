"""Instrumented training: `train(config, data=..., on_step=...)` runs a compiled SGD/Adam loop
on MNIST and hands every step's metrics to the caller as a StepRecord, a Snapshot of
histograms and input images every `histogram_every` steps, and the test-set evaluation
every `eval_every` steps.

It only computes and emits: TensorBoard (core.tensorboard.sink), the plots, the CLI and
the doctor are consumers of the same record stream, wired together by core.runs.recipe.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from core.data.mnist import Mnist
from core.data.pipeline import make_datasets
from core.schema.config import RunConfig
from core.schema.history import History, Snapshot, StepRecord
from core.train.histograms import finite_histograms
from core.train.instrument import step_statistics
from core.train.model import build, forward, loss_fn, variables
from core.train.optim import Optimizer

IMAGES_SHOWN = 8  # inputs kept in each snapshot


@dataclass
class RunResult:
    config: RunConfig
    steps_done: int
    test_accuracy: float
    test_loss: float
    first_nonfinite_step: int | None
    steps_per_second: float
    stopped: bool
    data_source: str
    history: History = field(repr=False)
    logdir: Path | None = None  # set by core.runs.recipe when the run was logged


def _accuracy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    predictions = tf.argmax(logits, axis=1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predictions, labels), tf.float32))


def train(
    config: RunConfig,
    *,
    data: Mnist,
    run_name: str = "",
    on_step: Callable[[StepRecord], None] | None = None,
    on_snapshot: Callable[[Snapshot], None] | None = None,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Train one run on `data`; snapshots are computed only when someone takes them."""
    ds = make_datasets(config, data)
    layers = build(config)
    named = variables(layers)
    var_names = [name for name, _ in named]
    train_vars = [var for _, var in named]
    optimizer = Optimizer(config.optimizer, config.learning_rate, train_vars)
    histogram_tags = (
        [f"{kind}/{name}" for name in var_names for kind in ("weights", "gradients")]
        + [f"activations/{layer.name}" for layer in layers[:-1]]  # hidden layers
    )
    stat_names: list[str] = []
    index_spec = tf.TensorSpec([None], tf.int32)
    step_spec = tf.TensorSpec([], tf.int64)

    def batch(indices, step):
        x = tf.gather(ds.x_train, indices)
        if config.input_noise_std > 0:
            # Stateless noise keyed by (seed, step): the histogram pass sees the same batch.
            seed = tf.stack([tf.constant(config.seed, tf.int64), step])
            x += config.input_noise_std * tf.random.stateless_normal(tf.shape(x), seed=seed)
        return x, tf.gather(ds.y_train, indices)

    def forward_backward(x, y):
        with tf.GradientTape() as tape:
            fwd = forward(layers, x, config.activation)
            loss = loss_fn(fwd.logits, y, config.softmax_before_loss)
        return fwd, loss, tape.gradient(loss, train_vars)

    step_counter = tf.Variable(0, dtype=tf.int64, trainable=False)  # no per-step host->device copy

    indices_iter = iter(ds.train_indices)

    @tf.function
    def train_step():
        """One SGD step: the batch comes from the iterator in-graph, statistics go out as one
        vector. The iterator is captured, not passed: an argument costs ~0.5 ms of dispatch
        per call."""
        step = step_counter.read_value()
        indices = next(indices_iter)
        x, y = batch(indices, step)
        fwd, loss, grads = forward_backward(x, y)
        old_values = [tf.identity(var) for var in train_vars]
        optimizer.apply(grads, train_vars)
        stats = step_statistics(
            activation=config.activation, layers=layers, names=var_names, x=x, labels=y,
            fwd=fwd, loss=loss, grads=grads, old_values=old_values, new_values=train_vars,
        )
        stat_names[:] = [name for name, _ in stats]
        values = tf.stack([tf.cast(value, tf.float32) for _, value in stats])
        step_counter.assign_add(1)
        return values, indices

    @tf.function(input_signature=[index_spec, step_spec])
    def snapshot_step(indices, step):
        """Buckets of weights, gradients and activations in `histogram_tags` order, the count
        of non-finite values they left out, and the first inputs."""
        x, y = batch(indices, step)
        fwd, _, grads = forward_backward(x, y)
        tensors = [t for pair in zip(train_vars, grads) for t in pair] + list(fwd.activations)
        buckets, dropped = finite_histograms(tensors)
        return buckets, dropped, x[:IMAGES_SHOWN]

    @tf.function
    def evaluate():
        logits = forward(layers, ds.x_test, config.activation).logits
        return loss_fn(logits, ds.y_test, config.softmax_before_loss), _accuracy(logits, ds.y_test)

    history = History(run=run_name, meta={"config": config.to_json(), "data_source": ds.source})

    def run_eval(step: int) -> dict[str, float]:
        loss, accuracy = evaluate()
        scalars = {"loss": float(loss), "accuracy": float(accuracy)}
        history.add_val(step, scalars)
        if on_eval is not None:
            on_eval(step, scalars)
        return scalars

    first_nonfinite = None
    steps_done = 0
    stopped = False
    timer_start = None
    last_eval_step = -1
    for step in range(config.steps):
        if stop is not None and stop.is_set():
            stopped = True
            break
        if step == 1:  # step 0 traced every compiled function: time the steady state from here
            timer_start = time.perf_counter()
        values, indices = train_step()
        record = StepRecord(step, dict(zip(stat_names, values.numpy().tolist())))
        history.add(record)
        steps_done = step + 1
        if first_nonfinite is None and (record.scalars["nonfinite/count"] > 0 or not math.isfinite(record.scalars["loss"])):
            first_nonfinite = step
        if on_step is not None:
            on_step(record)
        if on_snapshot is not None and step % config.histogram_every == 0:
            # After the step, on the step's own batch: the snapshot shows the weights it produced.
            buckets, dropped, images = snapshot_step(indices, tf.constant(step, tf.int64))
            on_snapshot(Snapshot(
                step, dict(zip(histogram_tags, buckets.numpy())), float(dropped), images.numpy().reshape(-1, 28, 28),
            ))
        if step % config.eval_every == 0:
            run_eval(step)
            last_eval_step = step
        if first_nonfinite is not None and config.stop_on_nonfinite:
            stopped = True
            break
    final = run_eval(steps_done - 1) if steps_done and last_eval_step != steps_done - 1 else None
    if final is None:
        final = {k: history.val[k].last() for k in ("loss", "accuracy")} if history.val else {"loss": math.nan, "accuracy": math.nan}
    speed = (steps_done - 1) / (time.perf_counter() - timer_start) if timer_start is not None else 0.0
    return RunResult(
        config=config,
        steps_done=steps_done,
        test_accuracy=final["accuracy"],
        test_loss=final["loss"],
        first_nonfinite_step=first_nonfinite,
        steps_per_second=speed,
        stopped=stopped,
        data_source=ds.source,
        history=history,
    )

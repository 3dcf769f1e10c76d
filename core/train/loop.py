"""Instrumented training: `train(config, data=..., on_step=...)` runs a compiled SGD/Adam loop
on MNIST and hands every step's metrics to the caller as a StepRecord, a Snapshot of
histograms and input images every `histogram_every` steps, and the test-set evaluation
every `eval_every` steps.

Steps run in compiled blocks of K (core.train.block, K from core.train.pacing); the
records of a block are emitted one by one after it, so consumers see every step as before.

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
from core.schema.class_balance import ClassBalance
from core.schema.config import RunConfig
from core.schema.facts import RunFacts
from core.schema.history import History, Snapshot, StepRecord, blew_up
from core.schema.tags import ACCURACY, LOSS
from core.train.block import StepBlocks
from core.train.model import build, forward, loss_fn
from core.train.pacing import BlockPacer, block_end


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
    log_error: str = ""  # set by core.runs.recipe: why the event files stopped early (a full disk)


def scenario_facts(config: RunConfig, data: Mnist, run_name: str = "") -> RunFacts:
    """What a scenario run states about itself: its config, its data, the data's class
    balance (the doctor's fingerprints depend on it)."""
    return RunFacts(run=run_name, config=config.to_dict(), data_source=data.source,
                    class_balance=ClassBalance.of(data.y_train, data.y_test), loop="tblab")


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
    steps_per_call: int | None = None,
) -> RunResult:
    """Train one run on `data`; snapshots are computed only when someone takes them.

    `steps_per_call` fixes K (the numbers do not depend on it); by default K adapts to the
    step time. `stop` is honoured between blocks: the steps of a block already run are
    still emitted.
    """
    ds = make_datasets(config, data)
    layers = build(config)
    blocks = StepBlocks(config, ds, layers, snapshots=on_snapshot is not None)
    pacer = BlockPacer(steps_per_call)
    cadences = (config.eval_every, config.histogram_every) if on_snapshot is not None else (config.eval_every,)

    @tf.function
    def evaluate():
        logits = forward(layers, ds.x_test, config.activation).logits
        return loss_fn(logits, ds.y_test, config.softmax_before_loss), _accuracy(logits, ds.y_test)

    history = History(run=run_name, facts=scenario_facts(config, data, run_name))

    def run_eval(step: int) -> dict[str, float]:
        loss, accuracy = evaluate()
        scalars = {LOSS: float(loss), ACCURACY: float(accuracy)}
        history.add_val(step, scalars)
        if on_eval is not None:
            on_eval(step, scalars)
        return scalars

    first_nonfinite = None
    steps_done = 0
    stopped = False
    timer_start = None
    last_eval_step = -1
    while steps_done < config.steps:
        if stop is not None and stop.is_set():
            stopped = True
            break
        if steps_done == 1:  # step 0 traced every compiled function: time the steady state from here
            timer_start = time.perf_counter()
        end = block_end(steps_done, pacer.size, config.steps, cadences)
        began = time.perf_counter()
        records, snapshot = blocks.run(end - steps_done + 1)
        if steps_done > 0:
            pacer.observe(len(records), time.perf_counter() - began)
        history.add_many(records)
        for record in records:
            if first_nonfinite is None and blew_up(record.scalars):
                first_nonfinite = record.step
            if on_step is not None:
                on_step(record)
        steps_done += len(records)
        step = steps_done - 1
        if snapshot is not None:
            # After the step, on the step's own pass: the snapshot shows the weights it produced.
            on_snapshot(snapshot)
        if step % config.eval_every == 0:
            run_eval(step)
            last_eval_step = step
        if first_nonfinite is not None and config.stop_on_nonfinite:
            stopped = True
            break
    final = run_eval(steps_done - 1) if steps_done and last_eval_step != steps_done - 1 else None
    if final is None:
        final = {k: history.val[k].last() if history.val else math.nan for k in (LOSS, ACCURACY)}
    speed = (steps_done - 1) / (time.perf_counter() - timer_start) if timer_start is not None else 0.0
    return RunResult(
        config=config,
        steps_done=steps_done,
        test_accuracy=final[ACCURACY],
        test_loss=final[LOSS],
        first_nonfinite_step=first_nonfinite,
        steps_per_second=speed,
        stopped=stopped,
        data_source=ds.source,
        history=history,
    )

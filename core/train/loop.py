"""Instrumented training: `run_events(config, data=...)` runs a compiled SGD/Adam loop on
MNIST and emits the run as events (core/schema/events.py): RunStarted with the run's facts,
every step's metrics as a Step, a Snapshot of histograms and input images every
`histogram_every` steps, the test-set evaluation every `eval_every` steps as an Eval, then
Ended; the stream returns the RunResult. `train(config, data=..., on_step=...)` is the same
run handed to callbacks.

Steps run in compiled blocks of K (core.train.block, K from core.train.pacing); the
records of a block are emitted one by one after it, so consumers see every step as before.

It only computes and emits: TensorBoard (core.tensorboard.sink), the plots, the CLI and
the doctor are sinks of the same stream, handed it by core.schema.events.consume.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from core.data.mnist import Mnist
from core.data.pipeline import make_datasets
from core.schema.class_balance import ClassBalance
from core.schema.config import RunConfig
from core.schema.events import Ended, Eval, RunEvent, RunStarted, Step, consume
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


def scenario_facts(config: RunConfig, data: Mnist, run_name: str = "") -> RunFacts:
    """What a scenario run states about itself: its config, its data, the data's class
    balance (the doctor's fingerprints depend on it)."""
    return RunFacts(run=run_name, config=config.to_dict(), data_source=data.source,
                    class_balance=ClassBalance.of(data.y_train, data.y_test), loop="tblab")


def _accuracy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    predictions = tf.argmax(logits, axis=1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predictions, labels), tf.float32))


class _Evaluator:
    """The test-set loss and accuracy of the run's current weights, one compiled call."""

    def __init__(self, config: RunConfig, layers, ds) -> None:
        @tf.function
        def evaluate():
            logits = forward(layers, ds.x_test, config.activation).logits
            return loss_fn(logits, ds.y_test, config.softmax_before_loss), _accuracy(logits, ds.y_test)

        self._evaluate = evaluate
        self.last_step = -1

    def __call__(self, step: int) -> Eval:
        loss, accuracy = self._evaluate()
        self.last_step = step
        return Eval(step, {LOSS: float(loss), ACCURACY: float(accuracy)})


def run_events(
    config: RunConfig,
    *,
    data: Mnist,
    run_name: str = "",
    snapshots: bool = True,
    stop: threading.Event | None = None,
    steps_per_call: int | None = None,
) -> Generator[RunEvent, None, RunResult]:
    """Train one run on `data`, emitting it as events; returns its RunResult. Snapshots are
    computed only when asked for.

    `steps_per_call` fixes K (the numbers do not depend on it); by default K adapts to the
    step time. `stop` is honoured between blocks: the steps of a block already run are
    still emitted.
    """
    ds = make_datasets(config, data)
    layers = build(config)
    blocks = StepBlocks(config, ds, layers, snapshots=snapshots)
    pacer = BlockPacer(steps_per_call)
    cadences = (config.eval_every, config.histogram_every) if snapshots else (config.eval_every,)
    evaluate = _Evaluator(config, layers, ds)
    history = History(run=run_name, facts=scenario_facts(config, data, run_name))
    yield RunStarted(history.facts)
    first_nonfinite, steps_done, reason, timer_start = None, 0, "finished", None
    while steps_done < config.steps:
        if stop is not None and stop.is_set():
            reason = "stopped"
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
            yield Step(record)
        steps_done += len(records)
        if snapshot is not None:
            # After the step, on the step's own pass: the snapshot shows the weights it produced.
            yield snapshot
        if (steps_done - 1) % config.eval_every == 0:
            yield _evaluated(history, evaluate(steps_done - 1))
        if first_nonfinite is not None and config.stop_on_nonfinite:
            reason = "nonfinite"
            break
    if steps_done and evaluate.last_step != steps_done - 1:
        yield _evaluated(history, evaluate(steps_done - 1))
    yield Ended(reason, steps_done)
    speed = (steps_done - 1) / (time.perf_counter() - timer_start) if timer_start is not None else 0.0
    return _result(config, history, steps_done, first_nonfinite, speed, reason != "finished")


def _result(config: RunConfig, history: History, steps_done: int, first_nonfinite: int | None, speed: float,
            stopped: bool) -> RunResult:
    return RunResult(
        config=config,
        steps_done=steps_done,
        test_accuracy=history.val[ACCURACY].last() if ACCURACY in history.val else math.nan,
        test_loss=history.val[LOSS].last() if LOSS in history.val else math.nan,
        first_nonfinite_step=first_nonfinite,
        steps_per_second=speed,
        stopped=stopped,
        data_source=history.facts.data_source,
        history=history,
    )


def _evaluated(history: History, event: Eval) -> Eval:
    history.add_val(event.step, event.scalars)
    return event


@dataclass(frozen=True)
class Callbacks:
    """A sink that hands a run's records to plain callbacks (see `train`)."""

    on_record: Callable[[StepRecord], None] | None = None
    on_snapshot_taken: Callable[[Snapshot], None] | None = None
    on_evaluated: Callable[[int, dict[str, float]], None] | None = None

    def on_step(self, event: Step) -> None:
        if self.on_record is not None:
            self.on_record(event.record)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if self.on_snapshot_taken is not None:
            self.on_snapshot_taken(snapshot)

    def on_eval(self, event: Eval) -> None:
        if self.on_evaluated is not None:
            self.on_evaluated(event.step, event.scalars)


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
    """run_events handed to callbacks; snapshots are computed only when someone takes them."""
    events = run_events(config, data=data, run_name=run_name, snapshots=on_snapshot is not None, stop=stop,
                        steps_per_call=steps_per_call)
    return consume(events, [Callbacks(on_step, on_snapshot, on_eval)])

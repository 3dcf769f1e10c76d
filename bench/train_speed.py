"""Steps/s of tblab's training against the classic handout loop and Keras `fit`.

(a) classic: from_tensor_slices -> map(/255) -> shuffle(60000) -> batch(128) -> repeat,
    a plain @tf.function GradientTape SGD step (the handout's loop);
(b) tblab, no summaries (logdir=None): gathered batches, full in-graph statistics;
(c) tblab, fully instrumented: every per-step scalar, histograms every 50, images every 500;
(d) Keras fit with keras.callbacks.TensorBoard(histogram_freq=1, update_freq="batch");
(e) tblab, fully instrumented, one step per compiled call (K = 1): what the K-step blocks save.
Same 784-100-100-10 ReLU MLP, batch 128, SGD lr 0.1, same data; one process,
interleaved rounds, medians of steady-state steps/s (tracing excluded). The process gives
TensorFlow the thread pools tblab trains with (core.system.tfquiet.TRAINING_THREADS: one
intra-op and one inter-op thread); they are per process, so (a) and (d) get them too.
Each run also reports its process CPU time per step (all threads): on a machine shared
with other work, wall-clock speed swings with the load, CPU time much less.

    python bench/train_speed.py [--rounds 5] [--steps 1000] [--data PATH] [--only abcde]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass

from core.system.tfquiet import TRAINING_THREADS, import_tensorflow_quietly

tf = import_tensorflow_quietly(threads=TRAINING_THREADS)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from core.data.mnist import Mnist, load_mnist  # noqa: E402
from core.runs.recipe import record_run  # noqa: E402
from core.schema.config import RunConfig  # noqa: E402

WARMUP = 20
TBLAB_FROM = 100  # tblab's window starts after this step's record: a block boundary (an eval step)


@dataclass(frozen=True)
class Speed:
    steps_per_second: float
    cpu_ms_per_step: float


class Clocks:
    """Wall and process-CPU clocks read together."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def speed(self, steps: int) -> Speed:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return Speed(steps / wall, 1000 * cpu / steps)


def classic_dataset(mnist):
    """The handout's pipeline: per-example map, shuffle(60000), batch(128), repeat."""
    return (
        tf.data.Dataset.from_tensor_slices((mnist.x_train, mnist.y_train.astype(np.int32)))
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))
        .shuffle(60000)
        .batch(128)
        .repeat()
    )


def classic(mnist, steps: int) -> Speed:
    ds = classic_dataset(mnist)
    rng = np.random.default_rng(0)
    shapes = [(784, 100), (100, 100), (100, 10)]
    weights = [tf.Variable(rng.uniform(-0.1, 0.1, s).astype(np.float32)) for s in shapes]
    biases = [tf.Variable(np.zeros(s[1], np.float32)) for s in shapes]
    params = weights + biases

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            h = x
            for i, (w, b) in enumerate(zip(weights, biases)):
                h = h @ w + b
                if i < 2:
                    h = tf.nn.relu(h)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        for var, grad in zip(params, tape.gradient(loss, params)):
            var.assign_sub(0.1 * grad)
        return loss

    it = iter(ds)
    for _ in range(WARMUP):
        step(*next(it)).numpy()
    clocks = Clocks()
    for _ in range(steps):
        loss = step(*next(it))
        if _ % 100 == 0:
            loss.numpy()  # the handout prints every 100 steps
    loss.numpy()
    return clocks.speed(steps)


def tblab(mnist, steps: int, instrumented: bool, steps_per_call: int | None = None) -> Speed:
    """Timed from the record of step TBLAB_FROM to the last one: the steps in between with
    their evals, snapshots and event-file writes."""
    config = RunConfig(init="uniform(-0.1,0.1)", steps=TBLAB_FROM + 1 + steps, histogram_every=50, image_every=500)
    logdir = tempfile.mkdtemp(prefix="tblab-bench-") if instrumented else None
    marks = {}

    def on_step(record):
        if record.step == TBLAB_FROM:
            marks["start"] = Clocks()
        elif record.step == config.steps - 1:
            marks["speed"] = marks["start"].speed(steps)

    fixed = {} if steps_per_call is None else {"steps_per_call": steps_per_call}  # so (a-d) also run older tblabs
    record_run(config, data=mnist, logdir=logdir, on_step=on_step, **fixed)
    return marks["speed"]


def keras_fit(mnist, steps: int) -> Speed:
    ds = classic_dataset(mnist)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    marks = {}

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == WARMUP:
                marks["start"] = Clocks()
            elif batch == WARMUP + steps:
                marks["speed"] = marks["start"].speed(steps)

    board = keras.callbacks.TensorBoard(tempfile.mkdtemp(prefix="tblab-bench-keras-"), histogram_freq=1, update_freq="batch")
    model.fit(ds, steps_per_epoch=WARMUP + steps + 1, epochs=1, verbose=0, callbacks=[board, Clock()])
    return marks["speed"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--data")
    parser.add_argument("--only", default="abcde", help="run only these of a-e (e.g. bc: more rounds of one ratio)")
    parser.add_argument("--train-size", type=int, default=60000, help="tile the training set up to this many examples")
    args = parser.parse_args()
    mnist = load_mnist(args.data)
    if len(mnist.y_train) < args.train_size:
        # The offline sample has 4000 digits; the classic pipeline's cost grows with the set it
        # shuffles, so compare at full-MNIST size (the same digits repeated).
        reps = -(-args.train_size // len(mnist.y_train))
        mnist = Mnist(
            np.tile(mnist.x_train, (reps, 1))[: args.train_size], np.tile(mnist.y_train, reps)[: args.train_size],
            mnist.x_test, mnist.y_test, f"{mnist.source}, train set tiled to {args.train_size}",
        )
    runs = {
        "a": ("classic loop", lambda: classic(mnist, args.steps)),
        "b": ("tblab, no summaries", lambda: tblab(mnist, args.steps, False)),
        "c": ("tblab, instrumented", lambda: tblab(mnist, args.steps, True)),
        "d": ("keras fit + TensorBoard", lambda: keras_fit(mnist, args.steps)),
        "e": ("tblab, instrumented, K = 1", lambda: tblab(mnist, args.steps, True, steps_per_call=1)),
    }
    runs = {key: run for key, run in runs.items() if key in args.only}
    results: dict[str, list[Speed]] = {key: [] for key in runs}
    for round_ in range(args.rounds):
        for key, (_, run) in runs.items():
            results[key].append(run())
        print(f"round {round_ + 1}: " + ", ".join(
            f"{key}={values[-1].steps_per_second:.0f}/s {values[-1].cpu_ms_per_step:.2f} cpu-ms" for key, values in results.items()
        ), flush=True)
    speed = {key: [r.steps_per_second for r in values] for key, values in results.items()}
    cpu = {key: [r.cpu_ms_per_step for r in values] for key, values in results.items()}
    print(f"\ndata: {mnist.source}; {args.steps} steps per run, {args.rounds} rounds\n")
    print("| run | steps/s (median) | CPU ms per step (median) |\n|---|---|---|")
    for key, (label, _) in runs.items():
        print(f"| {key} {label} | {statistics.median(speed[key]):.0f} | {statistics.median(cpu[key]):.2f} |")
    print("\n| ratio | target | of medians | median of per-round ratios | CPU time, inverse ratio of medians |\n|---|---|---|---|---|")
    for top, bottom, target in (("b", "a", 5), ("c", "a", 4), ("c", "b", 0.9), ("c", "d", 2), ("c", "e", 1)):
        if top in runs and bottom in runs:
            # Runs of one round are seconds apart, so their ratio cancels most of this VM's drift.
            paired = statistics.median(x / y for x, y in zip(speed[top], speed[bottom]))
            of_medians = statistics.median(speed[top]) / statistics.median(speed[bottom])
            by_cpu = statistics.median(cpu[bottom]) / statistics.median(cpu[top])
            print(f"| {top}/{bottom} | >= {target} | {of_medians:.2f} | {paired:.2f} | {by_cpu:.2f} |")


if __name__ == "__main__":
    main()

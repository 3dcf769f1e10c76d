"""Steps/s of tblab's training against the classic handout loop and Keras `fit`.

(a) classic: from_tensor_slices -> map(/255) -> shuffle(60000) -> batch(128) -> repeat,
    a plain @tf.function GradientTape SGD step (the handout's loop);
(b) tblab, no summaries (logdir=None): gathered batches, full in-graph statistics;
(c) tblab, fully instrumented: every per-step scalar, histograms every 50, images every 500;
(d) Keras fit with keras.callbacks.TensorBoard(histogram_freq=1, update_freq="batch");
(e) tblab, fully instrumented, one step per compiled call (K = 1): what the K-step blocks save.
Same 784-100-100-10 ReLU MLP, batch 128, SGD lr 0.1, same data; one process,
interleaved rounds, medians of steady-state steps/s (tracing excluded).

    python bench/train_speed.py [--rounds 5] [--steps 1000] [--data PATH] [--only abcde]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from core.system.tfquiet import import_tensorflow_quietly

tf = import_tensorflow_quietly()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from core.data.mnist import Mnist, load_mnist  # noqa: E402
from core.runs.recipe import record_run  # noqa: E402
from core.schema.config import RunConfig  # noqa: E402

WARMUP = 20


def classic_dataset(mnist):
    """The handout's pipeline: per-example map, shuffle(60000), batch(128), repeat."""
    return (
        tf.data.Dataset.from_tensor_slices((mnist.x_train, mnist.y_train.astype(np.int32)))
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))
        .shuffle(60000)
        .batch(128)
        .repeat()
    )


def classic(mnist, steps: int) -> float:
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
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(*next(it))
        if _ % 100 == 0:
            loss.numpy()  # the handout prints every 100 steps
    loss.numpy()
    return steps / (time.perf_counter() - start)


def tblab(mnist, steps: int, instrumented: bool, steps_per_call: int | None = None) -> float:
    config = RunConfig(init="uniform(-0.1,0.1)", steps=steps + WARMUP, histogram_every=50, image_every=500)
    logdir = tempfile.mkdtemp(prefix="tblab-bench-") if instrumented else None
    return record_run(config, data=mnist, logdir=logdir, steps_per_call=steps_per_call).steps_per_second


def keras_fit(mnist, steps: int) -> float:
    ds = classic_dataset(mnist)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch in (WARMUP, WARMUP + steps):
                times.append(time.perf_counter())

    board = keras.callbacks.TensorBoard(tempfile.mkdtemp(prefix="tblab-bench-keras-"), histogram_freq=1, update_freq="batch")
    model.fit(ds, steps_per_epoch=WARMUP + steps + 1, epochs=1, verbose=0, callbacks=[board, Clock()])
    return steps / (times[1] - times[0])


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
    results = {key: [] for key in runs}
    for round_ in range(args.rounds):
        for key, (_, run) in runs.items():
            results[key].append(run())
        print(f"round {round_ + 1}: " + ", ".join(f"{key}={values[-1]:.0f}" for key, values in results.items()), flush=True)
    median = {key: statistics.median(values) for key, values in results.items()}
    print(f"\ndata: {mnist.source}; {args.steps} steps per run, {args.rounds} rounds\n")
    print("| run | steps/s (median) |\n|---|---|")
    for key, (label, _) in runs.items():
        print(f"| {key} {label} | {median[key]:.0f} |")
    print()
    for top, bottom, target in (("b", "a", 5), ("c", "a", 4), ("c", "b", 0.9), ("c", "d", 2), ("c", "e", 1)):
        if top in runs and bottom in runs:
            # Runs of one round are seconds apart, so their ratio cancels most of this VM's drift.
            paired = statistics.median(x / y for x, y in zip(results[top], results[bottom]))
            print(f"{top}/{bottom} = {median[top] / median[bottom]:.2f} of medians, "
                  f"{paired:.2f} median of per-round ratios (target >= {target})")

if __name__ == "__main__":
    main()

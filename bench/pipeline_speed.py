"""How fast does each input pipeline feed the same compiled MNIST-sized SGD step?

    python bench/pipeline_speed.py [--rounds 5] [--steps 300]

Random uint8 images [60000, 784] with int32 labels feed a 784-256-256-10 ReLU MLP
trained by one plain @tf.function SGD step at batch 128. Every variant is checked
first on a small labelled copy (each example once per epoch, images still paired
with their labels, a new order next epoch), then timed in interleaved rounds so
that drift on a shared machine hits all variants alike. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

N, PIXELS, BATCH, HIDDEN, CLASSES = 60_000, 784, 128, 256, 10
LEARNING_RATE = 0.01
AUTOTUNE = tf.data.AUTOTUNE


def to_unit_floats(images, labels):
    return tf.cast(images, tf.float32) / 255.0, labels


# Each builder takes uint8 images and int32 labels (numpy) and returns (dataset, gathers):
# gathers=False: the dataset yields (images float32 [B, 784], labels int32 [B]);
# gathers=True: it yields index batches and the step gathers from float32 tensors.
def classic(x, y):
    return (tf.data.Dataset.from_tensor_slices((x, y)).map(to_unit_floats)
            .shuffle(len(y)).batch(BATCH).repeat()), False


def vectorised(x, y):
    return (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y)).batch(BATCH)
            .map(to_unit_floats).repeat()), False


def cached(x, y):
    return (tf.data.Dataset.from_tensor_slices((x, y)).map(to_unit_floats).cache()
            .shuffle(len(y)).batch(BATCH).repeat()), False


def prefetched(x, y):
    return classic(x, y)[0].prefetch(AUTOTUNE), False


def parallel_map(x, y):
    return (tf.data.Dataset.from_tensor_slices((x, y)).map(to_unit_floats, num_parallel_calls=AUTOTUNE)
            .shuffle(len(y)).batch(BATCH).repeat()), False


def vectorised_prefetched(x, y):
    return vectorised(x, y)[0].prefetch(AUTOTUNE), False


def gathered(x, y):
    return tf.data.Dataset.range(len(y)).shuffle(len(y)).batch(BATCH).repeat().prefetch(AUTOTUNE), True


def gathered_lab(x, y):
    from core.data import index_batches  # the lab's own default pipeline

    return index_batches(len(y), BATCH, seed=0), True


VARIANTS = {
    "classic: map -> shuffle -> batch": classic,
    "batch first, vectorised map": vectorised,
    "map -> cache -> shuffle -> batch": cached,
    "classic + prefetch": prefetched,
    "parallel map": parallel_map,
    "vectorised map + prefetch": vectorised_prefetched,
    "gathered by shuffled indices in the step": gathered,
    "gathered, the lab's core.data.index_batches": gathered_lab,
}


class Steps:
    """One MLP and one SGD update, called either with a batch or with indices to gather."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        sizes = [PIXELS, HIDDEN, HIDDEN, CLASSES]
        self.variables = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            kernel = rng.normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out)).astype(np.float32)
            self.variables += [tf.Variable(kernel), tf.Variable(tf.zeros([fan_out]))]
        self.images = self.labels = None
        spec = [tf.TensorSpec([None, PIXELS], tf.float32), tf.TensorSpec([None], tf.int32)]
        self.train = tf.function(self._update, input_signature=spec)

    def hold(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = tf.constant(images.astype(np.float32) / 255.0)
        self.labels = tf.constant(labels)
        self.gather_and_train = tf.function(lambda idx: self._update(*self.gather(idx)), reduce_retracing=True)

    def gather(self, indices):
        return tf.gather(self.images, indices), tf.gather(self.labels, indices)

    def _update(self, x, y):
        with tf.GradientTape() as tape:
            h = x
            for kernel, bias in zip(self.variables[:-2:2], self.variables[1:-2:2]):
                h = tf.nn.relu(h @ kernel + bias)
            logits = h @ self.variables[-2] + self.variables[-1]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        for variable, gradient in zip(self.variables, tape.gradient(loss, self.variables)):
            variable.assign_sub(LEARNING_RATE * gradient)
        return loss


def check_correct(build) -> str:
    """'yes', or what is wrong, on 1000 examples whose label is their index and pixel 0 encodes it."""
    n = 1000
    y = np.arange(n, dtype=np.int32)
    x = np.zeros((n, PIXELS), np.uint8)
    x[:, 0] = y % 256
    dataset, gathers = build(x, y)
    steps = Steps(0)
    steps.hold(x, y)
    batches = iter(dataset)
    epochs = []
    for _ in range(2):
        seen_x, seen_y = [], []
        for _ in range(-(-n // BATCH)):
            item = next(batches)
            images, labels = steps.gather(item) if gathers else item
            seen_x.append(images.numpy()[:, 0])
            seen_y.append(labels.numpy())
        epochs.append((np.concatenate(seen_x), np.concatenate(seen_y)))
    for images, labels in epochs:
        if sorted(labels.tolist()) != list(range(n)):
            return "no: an epoch misses or repeats examples"
        if not np.allclose(images * 255.0, labels % 256):
            return "no: images separated from labels"
    if np.array_equal(epochs[0][1], epochs[1][1]):
        return "no: same order every epoch"
    return "yes"


def run_round(feed, batches, steps: int) -> float:
    """Seconds for `steps` steps."""
    start = time.perf_counter()
    for _ in range(steps):
        loss = feed(next(batches))
    loss.numpy()  # wait for the last step
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per variant before round 1")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1 or args.warmup < 1:
        print("pipeline_speed: --rounds, --steps and --warmup must be >= 1", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N, PIXELS), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, N, dtype=np.int32)
    steps = Steps(0)
    steps.hold(images, labels)

    feeds, first_batch, correct = {}, {}, {}
    for name, build in VARIANTS.items():
        correct[name] = check_correct(build)
        dataset, gathers = build(images, labels)
        batches = iter(dataset)
        t0 = time.perf_counter()
        first = next(batches)
        first_batch[name] = time.perf_counter() - t0  # mostly the first fill of the shuffle buffer
        feed = steps.gather_and_train if gathers else (lambda batch: steps.train(*batch))
        feed(first)
        run_round(feed, batches, args.warmup)
        feeds[name] = (feed, batches)

    seconds = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    # A prefetching variant keeps reading ahead a few batches after its round ends, off
    # the clock; bounded by its small buffer, it rarely reaches an epoch-start refill.
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
            seconds[name].append(run_round(*feeds[name], args.steps))

    # A shuffle before repeat refills its whole buffer at every epoch start (every
    # ceil(60000 / 128) = 469 steps): the median round mostly misses that stall, the
    # sustained rate (all timed steps / all their time) pays it as training does.
    rates = {name: [args.steps / t for t in times] for name, times in seconds.items()}
    sustained = {name: args.rounds * args.steps / sum(times) for name, times in seconds.items()}
    baseline = sustained[names[0]]
    print(f"{args.rounds} rounds x {args.steps} steps, batch {BATCH}, MLP {PIXELS}-{HIDDEN}-{HIDDEN}-{CLASSES}, "
          f"{N} random uint8 images, TensorFlow {tf.__version__}, {os.cpu_count()} CPUs\n")
    print("| pipeline | steps/s sustained | vs classic | steps/s median round | min-max round "
          "| first batch (s) | correct |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in sorted(names, key=lambda k: -sustained[k]):
        print(f"| {name} | {sustained[name]:.0f} | {sustained[name] / baseline:.2f}x "
              f"| {statistics.median(rates[name]):.0f} | {min(rates[name]):.0f}-{max(rates[name]):.0f} "
              f"| {first_batch[name]:.2f} | {correct[name]} |")
    fastest = max((k for k in names if correct[k] == "yes"), key=lambda k: sustained[k])
    print(f"\nfirst batch: time to the first batch of an epoch, mostly filling the shuffle buffer; it recurs "
          f"every epoch.\nfastest correct (sustained): {fastest}; total time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

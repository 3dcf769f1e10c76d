"""How fast does each input pipeline feed the same compiled MNIST-sized SGD step?

Random uint8 images [n, 784] with int32 labels feed a 784-256-256-10 ReLU MLP
trained by one plain @tf.function SGD step at batch 128. Every variant is checked
first on a small labelled copy (each example once per epoch, images still paired
with their labels, a new order next epoch), then timed in interleaved rounds so
that drift on a shared machine hits all variants alike.

`measure()` returns the rows; `render_table()` (Markdown, for bench/pipeline_speed.py)
and `render_text()` (a table and a bar chart of steps/s, for the lab) draw them.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import tensorflow as tf

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
    from core.data.pipeline import index_batches  # the lab's own default pipeline

    return index_batches(len(y), BATCH, seed=0), True


VARIANTS = {
    "classic: map -> shuffle -> batch": classic,
    "batch first, vectorised map": vectorised,
    "map -> cache -> shuffle -> batch": cached,
    "classic + prefetch": prefetched,
    "parallel map": parallel_map,
    "vectorised map + prefetch": vectorised_prefetched,
    "gathered by shuffled indices in the step": gathered,
    "gathered, the lab's core.data.pipeline.index_batches": gathered_lab,
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


@dataclass(frozen=True)
class Row:
    name: str
    sustained: float  # steps/s over all timed steps (pays the epoch-start refills, as training does)
    median: float  # steps/s of the median round
    slowest: float  # steps/s of the slowest round
    fastest: float  # steps/s of the fastest round
    first_batch: float  # seconds to the first batch, mostly filling the shuffle buffer
    correct: str  # "yes", or what is wrong


@dataclass(frozen=True)
class SpeedResult:
    rows: list[Row]  # fastest (sustained) first
    rounds: int
    steps: int
    examples: int
    seconds: float
    stopped: bool = False

    def header(self) -> str:
        return (f"{self.rounds} rounds x {self.steps} steps, batch {BATCH}, "
                f"MLP {PIXELS}-{HIDDEN}-{HIDDEN}-{CLASSES}, {self.examples} random uint8 images, "
                f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs")

    def fastest_correct(self) -> str | None:
        correct = [row for row in self.rows if row.correct == "yes"]
        return correct[0].name if correct else None


def measure(
    *, rounds: int = 5, steps: int = 300, warmup: int = 20, examples: int = N,
    on_progress: Callable[[str], None] | None = None, stop=None,
) -> SpeedResult:
    """Check and time every variant: `rounds` interleaved rounds of `steps` steps each, after `warmup`
    untimed steps, on `examples` random images. `stop` (a threading.Event) ends it early: the rows
    then hold only the variants timed in full rounds so far (none before round 1 ends)."""
    if min(rounds, steps, warmup, examples) < 1:
        raise ValueError("rounds, steps, warmup and examples must be >= 1")
    say = on_progress or (lambda text: None)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (examples, PIXELS), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, examples, dtype=np.int32)
    model = Steps(0)
    model.hold(images, labels)

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    warmed = _warm_up(model, images, labels, warmup, say, stopped)
    if warmed is None:
        return SpeedResult([], rounds, steps, examples, time.perf_counter() - started, stopped=True)
    feeds, first_batch, correct = warmed

    seconds = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    # A prefetching variant keeps reading ahead a few batches after its round ends, off
    # the clock; bounded by its small buffer, it rarely reaches an epoch-start refill.
    done_rounds = 0
    for r in range(rounds):
        if stopped():
            break
        say(f"timing round {r + 1} of {rounds}")
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
            seconds[name].append(run_round(*feeds[name], steps))
        done_rounds += 1

    # A shuffle before repeat refills its whole buffer at every epoch start (every
    # ceil(n / 128) steps): the median round mostly misses that stall, the sustained
    # rate (all timed steps / all their time) pays it as training does.
    rows = [_row(name, seconds[name][:done_rounds], steps, first_batch[name], correct[name])
            for name in (names if done_rounds else [])]
    rows.sort(key=lambda row: -row.sustained)
    return SpeedResult(rows, done_rounds, steps, examples, time.perf_counter() - started,
                       stopped=done_rounds < rounds)


def _warm_up(model, images, labels, warmup: int, say, stopped):
    """Check every variant, time its first batch and run `warmup` untimed steps: (feeds,
    first-batch seconds, correctness) by variant, or None when stopped."""
    feeds, first_batch, correct = {}, {}, {}
    for name, build in VARIANTS.items():
        if stopped():
            return None
        say(f"checking and warming up: {name}")
        correct[name] = check_correct(build)
        dataset, gathers = build(images, labels)
        batches = iter(dataset)
        t0 = time.perf_counter()
        first = next(batches)
        first_batch[name] = time.perf_counter() - t0  # mostly the first fill of the shuffle buffer
        feed = model.gather_and_train if gathers else (lambda batch: model.train(*batch))
        feed(first)
        run_round(feed, batches, warmup)
        feeds[name] = (feed, batches)
    return feeds, first_batch, correct


def _row(name: str, times: list[float], steps: int, first_batch: float, correct) -> Row:
    rates = [steps / t for t in times]
    return Row(name, len(times) * steps / sum(times), statistics.median(rates), min(rates), max(rates),
               first_batch, correct)


def render_table(result: SpeedResult) -> str:
    """The Markdown table and notes that bench/pipeline_speed.py prints."""
    baseline = next((row.sustained for row in result.rows if row.name == next(iter(VARIANTS))), None)
    lines = [
        result.header(), "",
        "| pipeline | steps/s sustained | vs classic | steps/s median round | min-max round | first batch (s) | correct |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in result.rows:
        ratio = f"{row.sustained / baseline:.2f}x" if baseline else "-"
        lines.append(f"| {row.name} | {row.sustained:.0f} | {ratio} | {row.median:.0f} "
                     f"| {row.slowest:.0f}-{row.fastest:.0f} | {row.first_batch:.2f} | {row.correct} |")
    lines += [
        "",
        "first batch: time to the first batch of an epoch, mostly filling the shuffle buffer; it recurs every epoch.",
        f"fastest correct (sustained): {result.fastest_correct()}; total time {result.seconds:.0f} s",
    ]
    return "\n".join(lines)


def render_text(result: SpeedResult, width: int = 100) -> str:
    """A plain-text table and a horizontal bar chart of sustained steps/s, for the lab."""
    if not result.rows:
        return "pipeline speed: stopped before any variant was timed\n"
    name_width = max(len(row.name) for row in result.rows)
    top = max(row.sustained for row in result.rows) or 1.0
    baseline = next((row.sustained for row in result.rows if row.name == next(iter(VARIANTS))), None)
    lines = [result.header(), ""]
    lines.append(f"{'pipeline':<{name_width}}  {'steps/s':>8}  {'vs classic':>10}  {'first batch':>11}  correct")
    lines.append("-" * (name_width + 2 + 8 + 2 + 10 + 2 + 11 + 2 + 7))
    for row in result.rows:
        ratio = f"{row.sustained / baseline:.2f}x" if baseline else "-"
        lines.append(f"{row.name:<{name_width}}  {row.sustained:>8.0f}  {ratio:>10}  {row.first_batch:>10.2f}s  "
                     f"{row.correct}")
    lines += ["", "steps/s (sustained), higher is faster:"]
    bar_room = max(10, width - name_width - 12)
    for row in result.rows:
        bar = "█" * max(1, round(bar_room * row.sustained / top))
        lines.append(f"{row.name:<{name_width}} {bar} {row.sustained:.0f}")
    lines += [
        "",
        "first batch: time to the first batch of an epoch, mostly filling the shuffle buffer; it recurs every epoch.",
        f"fastest correct (sustained): {result.fastest_correct()}; total time {result.seconds:.0f} s",
    ]
    if result.stopped:
        lines.append(f"stopped early: only {result.rounds} round(s) timed")
    return "\n".join(lines) + "\n"

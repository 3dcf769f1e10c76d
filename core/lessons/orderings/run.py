"""The six orderings of shuffle, batch and repeat, run for real on tf.data.Dataset.range(n),
then measured (facts.py) and judged (judge.py). Only `produce_batches` touches TensorFlow."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.lessons.orderings.facts import (
    EpochCoverage, Order, OrderingFacts, ProducedBatch, Setup, describe_batches, epoch_coverage, measure,
)
from core.lessons.orderings.judge import Judgement, judge
from core.lessons.orderings.render import OrderingVerdict, describe

ORDERINGS: tuple[Order, ...] = (
    ("shuffle", "batch", "repeat"),
    ("shuffle", "repeat", "batch"),
    ("batch", "shuffle", "repeat"),
    ("batch", "repeat", "shuffle"),
    ("repeat", "shuffle", "batch"),
    ("repeat", "batch", "shuffle"),
)
MAX_N, MAX_EPOCHS, MAX_BATCH, MAX_BUFFER = 500, 20, 1000, 100_000


@dataclass(frozen=True)
class OrderingResult:
    order: Order
    code: str  # the tf.data chain, e.g. "ds.shuffle(10, seed=0).batch(4).repeat(3)"
    batches: tuple[ProducedBatch, ...]
    coverage: tuple[EpochCoverage, ...]
    facts: OrderingFacts
    judgement: Judgement

    @property
    def title(self) -> str:
        return " → ".join(self.order)

    @property
    def verdict(self) -> OrderingVerdict:
        """The judgement in words."""
        return describe(self.judgement)


@dataclass(frozen=True)
class OrderingsReport:
    n: int
    batch_size: int
    buffer: int
    epochs: int
    seed: int
    results: tuple[OrderingResult, ...]


def check_arguments(n: int, batch_size: int, buffer: int | None, epochs: int, seed: int) -> None:
    """Raise ValueError naming the first bad argument."""
    limits = [("n", n, 1, MAX_N), ("batch", batch_size, 1, MAX_BATCH), ("epochs", epochs, 1, MAX_EPOCHS)]
    if buffer is not None:
        limits.append(("buffer", buffer, 1, MAX_BUFFER))
    for name, value, low, high in limits:
        if not low <= value <= high:
            raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def chain_code(order: Order, setup: Setup) -> str:
    calls = {"shuffle": f"shuffle({setup.buffer}, seed={setup.seed})", "batch": f"batch({setup.batch_size})",
             "repeat": f"repeat({setup.epochs})"}
    return "ds." + ".".join(calls[op] for op in order)


def produce_batches(order: Order, n: int, batch_size: int, buffer: int, epochs: int, seed: int, *,
                    tag_passes: bool = True) -> list[tuple[list[int], list[int] | None]]:
    """Run the ordering on tf.data.Dataset.range(n); a list of (values, 0-based passes) per batch.

    A finite repeat(epochs) stands in for repeat(): the same stream, but it ends.
    With tag_passes, each item is numbered right after `repeat`: repeat emits its passes one
    after another, so position // items-per-pass is the pass. Shuffle picks buffer slots,
    never values, so the tag does not change the order (tests check this). Without it,
    passes come back as None.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.range(n)
    items_per_pass = n
    for op in order:
        if op == "shuffle":
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        elif op == "batch":
            ds = ds.batch(batch_size)
            if "repeat" not in order[: order.index("batch")]:
                items_per_pass = math.ceil(n / batch_size)
        else:
            ds = ds.repeat(epochs)
            if tag_passes:
                ds = ds.enumerate().map(lambda i, x, k=items_per_pass: (i // k, x))
    produced = []
    for item in ds.as_numpy_iterator():
        if tag_passes:
            passes, values = item
            values = [int(v) for v in values]
            passes = [int(p) for p in (passes if getattr(passes, "ndim", 0) else [passes] * len(values))]
        else:
            values, passes = [int(v) for v in item], None
        produced.append((values, passes))
    return produced


def analyse(order: Order, raw, n: int, batch_size: int, buffer: int, epochs: int, seed: int = 0) -> OrderingResult:
    """Describe one ordering's produced batches (from produce_batches with passes tagged) and judge it."""
    setup = Setup(n, batch_size, buffer, epochs, seed)
    order = tuple(order)
    batches = describe_batches(raw, n, batch_size)
    coverage = epoch_coverage(batches, n)
    facts = measure(order, batches, coverage, setup)
    return OrderingResult(order=order, code=chain_code(order, setup), batches=batches, coverage=coverage,
                          facts=facts, judgement=judge(order, setup, facts, batches, coverage))


def run_orderings(n: int = 10, batch_size: int = 4, buffer: int | None = None, epochs: int = 3,
                  seed: int = 0) -> OrderingsReport:
    """All six orderings on range(n); the shuffle buffer defaults to n."""
    check_arguments(n, batch_size, buffer, epochs, seed)
    buffer = n if buffer is None else buffer
    results = tuple(
        analyse(order, produce_batches(order, n, batch_size, buffer, epochs, seed), n, batch_size, buffer, epochs, seed)
        for order in ORDERINGS
    )
    return OrderingsReport(n=n, batch_size=batch_size, buffer=buffer, epochs=epochs, seed=seed, results=results)

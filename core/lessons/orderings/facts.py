"""What tf.data produced for one ordering, and the facts counted on it: the batches with
their passes and epochs, which examples each epoch saw, and the measurements a verdict
may rest on. Plain Python: no TensorFlow, no judgement, no prose.

A *pass* is one run of `repeat` over its input (tf.data's own truth). An *epoch* is what
a training loop counts: the next n examples it consumes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

Order = tuple[str, str, str]  # a permutation of ("shuffle", "batch", "repeat")


@dataclass(frozen=True)
class Setup:
    """One run of the lesson: range(n), batch size, shuffle buffer, epochs (repeat count), seed."""

    n: int
    batch_size: int
    buffer: int
    epochs: int
    seed: int = 0

    @property
    def batches_per_pass(self) -> int:
        return math.ceil(self.n / self.batch_size)


@dataclass(frozen=True)
class ProducedBatch:
    """One batch as tf.data produced it."""

    step: int  # 1-based position in the produced stream
    start: int  # 0-based position of its first example in the stream of examples
    values: tuple[int, ...]
    passes: tuple[int, ...]  # 1-based pass of `repeat` each example came from
    epoch: int  # the epoch (window of n examples) holding the batch's first example
    epoch_cuts: tuple[int, ...]  # positions in `values` where a new epoch begins
    partial: bool  # fewer than batch_size examples

    @property
    def straddles(self) -> bool:
        """Holds examples from more than one pass of the data."""
        return len(set(self.passes)) > 1


@dataclass(frozen=True)
class EpochCoverage:
    """Which examples one epoch (n consecutive examples of the stream) saw."""

    epoch: int
    order: tuple[int, ...]
    missing: tuple[int, ...]
    repeated: tuple[int, ...]  # seen more than once within this epoch

    @property
    def complete(self) -> bool:
        return not self.missing and not self.repeated


@dataclass(frozen=True)
class OrderingFacts:
    """Facts measured on the produced stream; the verdict is derived from these only."""

    batch_count: int
    partial_steps: tuple[int, ...]
    partial_sizes: tuple[int, ...]
    straddling_steps: tuple[int, ...]
    incomplete_epochs: tuple[int, ...]
    early_arrivals: int  # examples that came out before an earlier pass had finished
    batches_are_runs: bool  # every batch holds neighbours in original order (mod n)
    distinct_batch_contents: int
    shuffled: bool  # some epoch came out in an order other than 0, 1, 2, ...
    order_changes_between_epochs: bool | None  # None with a single epoch
    shuffle_unit: str  # "example" or "batch": what the shuffle buffer holds
    units_per_pass: int  # examples, or batches, in one pass
    max_jump_ahead: int  # furthest any unit came out ahead of its place in the repeated stream


def describe_batches(raw, n: int, batch_size: int) -> tuple[ProducedBatch, ...]:
    """Produced batches from (values, 0-based passes) pairs, placed in the stream of examples."""
    batches, position = [], 0
    for step, (values, passes) in enumerate(raw, start=1):
        cuts = tuple(i for i in range(1, len(values)) if (position + i) % n == 0)
        batches.append(ProducedBatch(
            step=step, start=position, values=tuple(values), passes=tuple(p + 1 for p in passes),
            epoch=position // n + 1, epoch_cuts=cuts, partial=len(values) < batch_size,
        ))
        position += len(values)
    return tuple(batches)


def epoch_coverage(batches: tuple[ProducedBatch, ...], n: int) -> tuple[EpochCoverage, ...]:
    stream = [v for b in batches for v in b.values]
    result = []
    for start in range(0, len(stream), n):
        window = stream[start : start + n]
        counts = Counter(window)
        result.append(EpochCoverage(
            epoch=start // n + 1, order=tuple(window),
            missing=tuple(v for v in range(n) if v not in counts),
            repeated=tuple(sorted(v for v, c in counts.items() if c > 1)),
        ))
    return tuple(result)


def _early_arrivals(passes: list[int]) -> int:
    """Examples emitted while some example of an earlier pass was still to come."""
    later_minimum, count = math.inf, 0
    for p in reversed(passes):
        count += p > later_minimum
        later_minimum = min(later_minimum, p)
    return count


def _is_run(values: tuple[int, ...], n: int) -> bool:
    return all((b - a) % n == 1 for a, b in zip(values, values[1:]))


def _max_jump_ahead(order: Order, batches, setup: Setup, shuffle_unit: str) -> int:
    """How far ahead of its place in the repeated, unshuffled stream any unit came out."""
    n, batch_size = setup.n, setup.batch_size
    jumps = []
    if shuffle_unit == "example":
        stream = [(v, p) for b in batches for v, p in zip(b.values, b.passes)]
        jumps = [(p - 1) * n + v - i for i, (v, p) in enumerate(stream)]
    else:
        batched_per_pass = order.index("batch") < order.index("repeat")
        for i, b in enumerate(batches):
            if batched_per_pass:
                source = (b.passes[0] - 1) * setup.batches_per_pass + b.values[0] // batch_size
            else:
                source = ((b.passes[0] - 1) * n + b.values[0]) // batch_size
            jumps.append(source - i)
    return max(jumps, default=0)


def measure(order: Order, batches: tuple[ProducedBatch, ...], coverage: tuple[EpochCoverage, ...],
            setup: Setup) -> OrderingFacts:
    """The facts a verdict may rest on, all counted on the produced batches."""
    n, batch_size = setup.n, setup.batch_size
    passes = [p for b in batches for p in b.passes]
    shuffle_unit = "example" if order.index("shuffle") < order.index("batch") else "batch"
    windows = [c.order for c in coverage]
    return OrderingFacts(
        batch_count=len(batches),
        partial_steps=tuple(b.step for b in batches if b.partial),
        partial_sizes=tuple(sorted({len(b.values) for b in batches if b.partial})),
        straddling_steps=tuple(b.step for b in batches if b.straddles),
        incomplete_epochs=tuple(c.epoch for c in coverage if not c.complete),
        early_arrivals=_early_arrivals(passes),
        batches_are_runs=batch_size >= 2 and all(_is_run(b.values, n) for b in batches),
        distinct_batch_contents=len({frozenset(b.values) for b in batches}),
        shuffled=any(list(w) != list(range(n)) for w in windows),
        order_changes_between_epochs=None if len(windows) < 2 else any(w != windows[0] for w in windows[1:]),
        shuffle_unit=shuffle_unit,
        units_per_pass=n if shuffle_unit == "example" else setup.batches_per_pass,
        max_jump_ahead=_max_jump_ahead(order, batches, setup, shuffle_unit),
    )

"""The verdict on one ordering, judged from its measured facts: which observations hold and
how much each matters (a flaw, a caveat, a note). No prose here: each observation is
typed data that core/lessons/orderings/render.py puts into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from core.lessons.orderings.facts import EpochCoverage, Order, OrderingFacts, ProducedBatch, Setup

Rating = Literal["sensible", "caveats", "flawed"]
RATINGS: tuple[Rating, ...] = ("sensible", "caveats", "flawed")
Unit = Literal["example", "batch"]


# --- what can be observed ------------------------------------------------------------
@dataclass(frozen=True)
class NeverShuffled:
    """Every epoch came out as 0, 1, 2, ... and nothing could have moved."""

    unit: Unit
    because: Literal["buffer_of_one", "one_batch_per_pass"]


@dataclass(frozen=True)
class OrderKeptByChance:
    """Every epoch came out in order, but the shuffle could have moved things."""

    unit: Unit


@dataclass(frozen=True)
class EpochsMix:
    """Some epoch saw an example twice or missed one."""

    first_bad: EpochCoverage
    incomplete: int
    epochs: int
    shuffle_after_repeat: bool
    unit: Unit


@dataclass(frozen=True)
class LaterPassEarly:
    """Examples of a later pass came out before an earlier pass had finished (every epoch still complete)."""

    examples: int


@dataclass(frozen=True)
class WholeBatchesOnly:
    """Shuffle after batch: batches keep their neighbours; only their order changes."""

    example: ProducedBatch
    same_groups_each_epoch: bool
    distinct_batches: int
    batches: int


@dataclass(frozen=True)
class NeighboursByChance:
    example: ProducedBatch
    n: int


@dataclass(frozen=True)
class Straddles:
    """Batches holding examples of two passes."""

    batches: int
    example: ProducedBatch
    epoch_ends_mid_batch: bool  # repeat before batch, and nothing worse: a caveat, not just a note


@dataclass(frozen=True)
class PartialBatches:
    sizes: tuple[int, ...]
    steps: tuple[int, ...]
    where: Literal["stream_end", "shuffled", "each_pass"]
    n: int
    batch_size: int


@dataclass(frozen=True)
class LocalShuffle:
    """A buffer smaller than a pass: no unit can move far."""

    buffer: int
    units_per_pass: int
    unit: Unit
    max_jump_ahead: int


@dataclass(frozen=True)
class BufferCountsBatches:
    buffer: int
    batch_size: int


@dataclass(frozen=True)
class SameOrderEachEpoch:
    pass


@dataclass(frozen=True)
class EveryEpochComplete:
    """The sensible outcome."""

    n: int
    new_order_each_epoch: bool


Observation = Union[
    NeverShuffled, OrderKeptByChance, EpochsMix, LaterPassEarly, WholeBatchesOnly, NeighboursByChance, Straddles,
    PartialBatches, LocalShuffle, BufferCountsBatches, SameOrderEachEpoch, EveryEpochComplete,
]


@dataclass(frozen=True)
class Judgement:
    rating: Rating
    flaws: tuple[Observation, ...]
    caveats: tuple[Observation, ...]
    notes: tuple[Observation, ...]
    outcome: Observation  # what the one-line summary says: the first flaw, else the first caveat, else the good news


# --- the judge ----------------------------------------------------------------------------
def judge(order: Order, setup: Setup, facts: OrderingFacts, batches: tuple[ProducedBatch, ...],
          coverage: tuple[EpochCoverage, ...]) -> Judgement:
    """Judge an ordering from its measured facts; the ordering only supplies the 'because'."""
    shuffle_after_repeat = order.index("shuffle") > order.index("repeat")
    shuffle_after_batch = order.index("shuffle") > order.index("batch")
    batch_after_repeat = order.index("batch") > order.index("repeat")
    unit = facts.shuffle_unit
    one_batch_per_pass = setup.batches_per_pass <= 1
    flaws: list[Observation] = []
    caveats: list[Observation] = []
    notes: list[Observation] = []

    if not facts.shuffled:
        if setup.buffer == 1:
            flaws.append(NeverShuffled(unit, "buffer_of_one"))
        elif unit == "batch" and not batch_after_repeat and one_batch_per_pass:
            flaws.append(NeverShuffled(unit, "one_batch_per_pass"))
        else:
            notes.append(OrderKeptByChance(unit))

    if facts.incomplete_epochs:
        first_bad = coverage[facts.incomplete_epochs[0] - 1]
        flaws.append(EpochsMix(first_bad, len(facts.incomplete_epochs), len(coverage), shuffle_after_repeat, unit))
    elif facts.early_arrivals:
        flaws.append(LaterPassEarly(facts.early_arrivals))

    if facts.batches_are_runs and not one_batch_per_pass:
        if shuffle_after_batch:
            same = setup.epochs > 1 and facts.distinct_batch_contents <= facts.units_per_pass
            flaws.append(WholeBatchesOnly(batches[0], same, facts.distinct_batch_contents, facts.batch_count))
        elif facts.shuffled:
            notes.append(NeighboursByChance(batches[0], setup.n))

    if facts.straddling_steps:
        example = next(b for b in batches if b.step == facts.straddling_steps[0])
        mid_batch = batch_after_repeat and not flaws
        (caveats if mid_batch else notes).append(Straddles(len(facts.straddling_steps), example, mid_batch))

    if facts.partial_steps:
        where = "stream_end" if batch_after_repeat else "shuffled" if shuffle_after_repeat else "each_pass"
        notes.append(PartialBatches(facts.partial_sizes, facts.partial_steps, where, setup.n, setup.batch_size))

    if facts.shuffled and setup.buffer < facts.units_per_pass:
        caveats.append(LocalShuffle(setup.buffer, facts.units_per_pass, unit, facts.max_jump_ahead))
    if shuffle_after_batch:
        notes.append(BufferCountsBatches(setup.buffer, setup.batch_size))
    if facts.shuffled and facts.order_changes_between_epochs is False:
        caveats.append(SameOrderEachEpoch())

    if flaws:
        rating, outcome = "flawed", flaws[0]
    elif caveats:
        rating, outcome = "caveats", caveats[0]
    else:
        rating, outcome = "sensible", EveryEpochComplete(setup.n, bool(facts.order_changes_between_epochs))
    return Judgement(rating, tuple(flaws), tuple(caveats), tuple(notes), outcome)

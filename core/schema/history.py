"""StepRecord and History: the one shape in which metrics travel.

Live training emits StepRecords; event files on disk are read into a History;
the doctor, the plots and the report only ever look at a History.

Tag names are the constants of core/schema/tags.py (tblab's own runs; other programs'
logs are mapped onto them where they can be, see core/tensorboard/tag_styles.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from core.schema.facts import RunFacts
from core.schema.tags import GRAD_NORM_GLOBAL, LAYERED, LOSS, NONFINITE_COUNT, OUTPUT_LAYER

# A live History keeps every value of a run up to ~BOUND_FROM records a tag; past that,
# the first KEEP_HEAD and last KEEP_TAIL records stay whole (the doctor reads the first
# 10 and the last 200 of a tag) and the records between are thinned evenly over the steps
# to at most KEEP_MIDDLE (enough for a plot of the whole run). So a million-step run holds
# a few thousand values per tag, not a million: memory stays flat however long it trains.
KEEP_HEAD = 1000
KEEP_TAIL = 2000
KEEP_MIDDLE = 2000
BOUND_EVERY = 1000  # records added between two thinnings: the cost is amortised
BOUND_FROM = KEEP_HEAD + KEEP_TAIL + KEEP_MIDDLE


@dataclass(frozen=True)
class StepRecord:
    """The plain-float metrics of one training step (NaN and Inf allowed)."""

    step: int
    scalars: dict[str, float]


@dataclass
class Series:
    """One scalar tag over steps, in the order it was recorded."""

    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    stride: int = field(default=1, repr=False, compare=False)  # steps per kept record in a thinned middle
    thinned: int = field(default=0, repr=False, compare=False)  # where the thinned middle ends

    def append(self, step: int, value: float) -> None:
        self.steps.append(step)
        self.values.append(value)

    def last(self) -> float:
        return self.values[-1] if self.values else math.nan

    def array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.steps)

    def thin(self) -> None:
        """Keep the first KEEP_HEAD and last KEEP_TAIL records whole and at most KEEP_MIDDLE
        between them: the first record of each `stride` steps, the stride doubling as the
        run grows (earlier choices stay chosen, the spacing stays even). Only the records
        that left the tail since the last call are looked at, unless the stride doubles."""
        if len(self.steps) <= BOUND_FROM:
            return
        middle_end = len(self.steps) - KEEP_TAIL
        thinned = self._keep_first_per_stride(max(KEEP_HEAD, self.thinned), middle_end)
        while thinned - KEEP_HEAD > KEEP_MIDDLE:
            self.stride *= 2
            thinned = self._keep_first_per_stride(KEEP_HEAD, thinned)
        self.thinned = thinned

    def _keep_first_per_stride(self, start: int, end: int) -> int:
        """Drop the records in [start, end) that share their `stride` bucket with the record
        before them; returns where the kept ones end."""
        steps = np.asarray(self.steps[start - 1:end], dtype=np.int64)  # one record of context
        buckets = steps // self.stride
        kept = (np.flatnonzero(buckets[1:] != buckets[:-1]) + start).tolist()
        self.steps[start:end] = [self.steps[i] for i in kept]
        self.values[start:end] = [self.values[i] for i in kept]
        return start + len(kept)


@dataclass(frozen=True)
class HistogramSnapshot:
    """A histogram at one step: bucket edges (len k+1) and counts (len k)."""

    step: int
    edges: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class Snapshot:
    """What a run shows every few steps besides its scalars: [buckets, 3] histogram rows of
    (left edge, right edge, count) per tag (non-finite values dropped, and counted in
    `dropped`), and the step's first input images as [k, 28, 28] raw values."""

    step: int
    histograms: dict[str, np.ndarray]
    dropped: float = 0.0
    images: np.ndarray | None = None


@dataclass
class History:
    """Everything known about one run: train scalars, validation scalars, histograms."""

    run: str = ""
    train: dict[str, Series] = field(default_factory=dict)
    val: dict[str, Series] = field(default_factory=dict)
    histograms: dict[str, list[HistogramSnapshot]] = field(default_factory=dict)
    facts: RunFacts = field(default_factory=RunFacts)  # config, data source, class balance, what a reader recovered
    warnings: list[str] = field(default_factory=list)
    _since_bound: int = field(default=0, repr=False, compare=False)

    def add(self, record: StepRecord) -> None:
        self.add_many([record])

    def add_many(self, records: list[StepRecord]) -> None:
        """Append records in step order, a column per tag: one list extend per tag per
        call instead of two appends per tag per record (30 us a step on an 8-layer net)."""
        train = self.train
        start = 0
        while start < len(records):
            tags = tuple(records[start].scalars)
            end = start + 1
            while end < len(records) and tuple(records[end].scalars) == tags:  # a run of one tag layout
                end += 1
            group = records[start:end]
            steps = [record.step for record in group]
            for tag, column in zip(tags, zip(*(record.scalars.values() for record in group))):
                series = train.get(tag)  # not setdefault: that builds a Series per tag per call
                if series is None:
                    series = train[tag] = Series()
                series.steps.extend(steps)
                series.values.extend(column)
            start = end
        self._since_bound += len(records)
        if self._since_bound >= BOUND_EVERY:
            self.bound()

    def add_val(self, step: int, scalars: dict[str, float]) -> None:
        for tag, value in scalars.items():
            self.val.setdefault(tag, Series()).append(step, value)

    def bound(self) -> None:
        """Thin every series past BOUND_FROM records (see KEEP_HEAD): call it every so many
        records when filling the series directly instead of through add()."""
        self._since_bound = 0
        for section in (self.train, self.val):
            for series in section.values():
                if len(series.steps) > BOUND_FROM:
                    series.thin()

    def series(self, tag: str) -> Series:
        return self.train.get(tag, Series())

    def layers(self) -> list[str]:
        """Layer names that have any per-layer tag, ordered input side first, output last
        (in the order the run's facts state, else by the numbers in their names)."""
        names = {tag.split("/")[1] for tag in self.train if tag.count("/") >= 1 and _is_layered(tag)}
        stated = {name: index for index, name in enumerate(self.facts.layer_order)}
        return sorted(names, key=lambda name: (stated.get(name, len(stated)), layer_order(name)))

    def last_step(self) -> int:
        return max((s.steps[-1] for s in self.train.values() if s.steps), default=-1)


_LAYERED_PREFIXES = tuple(f"{prefix}/" for prefix in LAYERED)


def _is_layered(tag: str) -> bool:
    return tag.startswith(_LAYERED_PREFIXES) and tag != GRAD_NORM_GLOBAL


def blew_up(scalars: dict[str, float]) -> bool:
    """A step with NaN/Inf: its loss is not finite, or tblab counted non-finite values
    (in the loss, logits, gradients or weights)."""
    loss = scalars.get(LOSS, 0.0)
    return not math.isfinite(loss) or scalars.get(NONFINITE_COUNT, 0.0) > 0


def layer_order(name: str) -> tuple[int, str]:
    """Sort key: dense_1 < dense_2 < ... < dense_10 < other names < output."""
    if name == OUTPUT_LAYER:
        return (1 << 30, name)
    match = re.search(r"(\d+)$", name)
    return (int(match[1]) if match else (1 << 29), name)

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

from core.schema.tags import GRAD_NORM_GLOBAL, LAYERED, LOSS, NONFINITE_COUNT, OUTPUT_LAYER


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

    def append(self, step: int, value: float) -> None:
        self.steps.append(step)
        self.values.append(value)

    def last(self) -> float:
        return self.values[-1] if self.values else math.nan

    def array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.steps)


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
    meta: dict[str, str] = field(default_factory=dict)  # e.g. config (JSON), data_source
    warnings: list[str] = field(default_factory=list)

    def add(self, record: StepRecord) -> None:
        for tag, value in record.scalars.items():
            series = self.train.get(tag)  # not setdefault: that builds a Series per tag per step
            if series is None:
                series = self.train[tag] = Series()
            series.append(record.step, value)

    def add_val(self, step: int, scalars: dict[str, float]) -> None:
        for tag, value in scalars.items():
            self.val.setdefault(tag, Series()).append(step, value)

    def series(self, tag: str) -> Series:
        return self.train.get(tag, Series())

    def layers(self) -> list[str]:
        """Layer names that have any per-layer tag, ordered input side first, output last."""
        names = {tag.split("/")[1] for tag in self.train if tag.count("/") >= 1 and _is_layered(tag)}
        return sorted(names, key=layer_order)

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

"""The numbers a hand-in section quotes, pulled from one run's History."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from core.schema.history import History
from core.schema.tags import (
    ACCURACY,
    DEAD_FRACTION,
    GRAD_NORM,
    INPUT_STATS,
    KERNEL,
    LOSS,
    NONFINITE_COUNT,
    SATURATED_FRACTION,
    layer_tag,
)


@dataclass(frozen=True)
class Evidence:
    """The numbers a learner should look at, pulled from one run's History."""

    first_nonfinite_step: int | None
    first_loss: float
    final_loss: float  # mean of the last 10% of steps
    train_accuracy: float  # mean batch accuracy over the last 10% of steps
    dead_fraction: dict[str, float]  # per hidden layer, mean over the run
    saturated_fraction: dict[str, float]
    grad_ladder: dict[str, float]  # median kernel gradient norm over the first 100 steps
    input_stats: dict[str, float]  # step 0


def _tail_mean(values: np.ndarray) -> float:
    tail = values[-max(1, len(values) // 10):]
    finite = tail[np.isfinite(tail)] if len(tail) else tail
    return float(np.mean(finite)) if len(finite) else math.nan


def first_nonfinite_step(history: History) -> int | None:
    loss = history.series(LOSS)
    values = loss.array()
    nonfinite = history.series(NONFINITE_COUNT).array()
    bad = ~np.isfinite(values)
    if len(nonfinite) == len(values):
        bad |= nonfinite > 0
    hits = np.flatnonzero(bad)
    return int(loss.steps[hits[0]]) if len(hits) else None


def per_layer_mean(history: History, prefix: str) -> dict[str, float]:
    out = {}
    for layer in history.layers():
        values = history.series(layer_tag(prefix, layer)).array()
        values = values[np.isfinite(values)]
        if len(values):
            out[layer] = float(np.mean(values))
    return out


def evidence(history: History) -> Evidence:
    loss = history.series(LOSS).array()
    layers = history.layers()
    ladder = {}
    for layer in layers:
        values = history.series(layer_tag(GRAD_NORM, layer, KERNEL)).array()[:100]
        values = values[np.isfinite(values)]
        if len(values):
            ladder[layer] = float(np.median(values))
    return Evidence(
        first_nonfinite_step=first_nonfinite_step(history),
        first_loss=float(loss[0]) if len(loss) else math.nan,
        final_loss=_tail_mean(loss),
        train_accuracy=_tail_mean(history.series(ACCURACY).array()),
        dead_fraction=per_layer_mean(history, DEAD_FRACTION),
        saturated_fraction=per_layer_mean(history, SATURATED_FRACTION),
        grad_ladder=ladder,
        input_stats={t.split("/")[1]: history.series(t).values[0] for t in INPUT_STATS if t in history.train},
    )


def ladder_at(history: History, step: int) -> tuple[int, dict[str, float]]:
    """The recorded step nearest `step` that has kernel gradient norms, and each layer's
    norm there (NaN when not finite): one step for every rung, as the doctor reads a ladder."""
    series = {layer: history.series(layer_tag(GRAD_NORM, layer, KERNEL)) for layer in history.layers()}
    series = {layer: s for layer, s in series.items() if s.steps}
    if not series:
        return step, {}
    steps = np.asarray(next(iter(series.values())).steps)
    chosen = int(steps[int(np.argmin(np.abs(steps - step)))])
    out = {}
    for layer, s in series.items():
        index = bisect_left(s.steps, chosen)
        if index < len(s.steps) and s.steps[index] == chosen:
            out[layer] = float(s.values[index])
    return chosen, out


def ladder_step(history: History, wanted: int) -> int:
    """The step to show the ladder at: `wanted` (the doctor's), moved before the first
    non-finite step so every bar has a value."""
    bad = first_nonfinite_step(history)
    if bad is not None and wanted >= bad:
        return max(0, bad - 1)
    return max(0, wanted)


def last_test(history: History) -> tuple[int | None, float]:
    """The step and value of the run's last test-set accuracy."""
    series = history.val.get(ACCURACY)
    if series is None or not series.steps:
        return None, math.nan
    return int(series.steps[-1]), float(series.values[-1])

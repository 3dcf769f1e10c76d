"""Facts about a run that several rules need: which activation it uses, its batch size,
its per-layer gradient-norm ladder, and whether its inputs look raw.

Each is read from the tags first (so foreign logs work) and from the run's own
RunConfig only where the tags cannot tell.
"""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.derived import SATURATING, hidden_activation
from core.doctor.evidence import finite, hist_l2, median
from core.doctor.view import RunView
from core.schema.tags import ACCURACY, DEAD_FRACTION, GRAD_NORM, GRADIENTS, INPUT_STATS, KERNEL, LOSS, SATURATED_FRACTION


def activation_kind(view: RunView) -> str:
    """'relu', 'saturating' (sigmoid/tanh) or 'unknown': from the unit fractions tblab measures,
    else from what the log shows (the model config, the activation histograms' shape: ReLU is
    >= 0 with a pile at 0, sigmoid lives in (0, 1), tanh in (-1, 1)), else the run's config."""
    if view.layered(DEAD_FRACTION):
        return "relu"
    if view.layered(SATURATED_FRACTION):
        return "saturating"
    shown = hidden_activation(view)
    configured = view.config_value("activation")
    if shown == "relu" or configured in ("relu", "leaky_relu"):
        return "relu"
    if shown in SATURATING or configured in SATURATING:
        return "saturating"
    return "unknown"


def batch_size(view: RunView) -> int | None:
    """The training batch size: from the config, else from the activation histograms' sizes
    (core/tensorboard/reading/units.py), else from the granularity of batch accuracy."""
    configured = view.config_value("batch_size")
    if isinstance(configured, int) and configured > 0:
        return configured
    if view.history.facts.batch_size:
        return view.history.facts.batch_size
    _, acc = view.tail(ACCURACY)
    values = np.unique(finite(acc))
    if values.size < T.MIN_DISTINCT_ACCURACIES:
        return None
    # Batch accuracy is k/B: neighbouring values differ by multiples of 1/B.
    step = float(np.min(np.diff(values)))
    base = round(1.0 / step) if step > 0 else 0
    for size in (base * m for m in (1, 2, 3, 4)):
        if T.BATCH_SIZE_MIN <= size <= T.BATCH_SIZE_MAX:
            scaled = values * size
            if np.mean(np.abs(scaled - np.round(scaled)) < T.BATCH_MULTIPLE_TOLERANCE) >= T.BATCH_MULTIPLE_SHARE:
                return size
    return None


def window_median(view: RunView, tag: str, records: int = T.WINDOW) -> float:
    _, values = view.tail(tag, records)
    return median(values)


def kernel_grad_ladder(view: RunView, records: int = T.WINDOW) -> list[tuple[str, float]]:
    """(layer, median kernel gradient norm over the window), input side first.

    Falls back on gradient histograms (norm from bucket centres) when the scalars are absent.
    """
    ladder = []
    scalars = view.layered(GRAD_NORM, KERNEL)
    for layer, tag in scalars:
        value = window_median(view, tag, records)
        if math.isfinite(value):
            ladder.append((layer, value))
    if scalars:
        return ladder  # NaN scalars mean a blown-up run, not a reason to trust histograms instead
    for layer, tag in view.hist_layered(GRADIENTS, KERNEL):
        snaps = view.hists(tag)
        norms = [hist_l2(s) for s in snaps[-3:]]
        norms = [n for n in norms if math.isfinite(n)]
        if norms:
            ladder.append((layer, float(median(norms))))
    return ladder


def input_stats(view: RunView) -> dict[str, float] | None:
    """Window medians of the input batch statistics, or None when they were not logged."""
    tags = INPUT_STATS
    if not all(view.has(t) for t in tags):
        return None
    stats = {t.split("/")[1]: window_median(view, t) for t in tags}
    return stats if all(math.isfinite(v) for v in stats.values()) else None


def noise_like(stats: dict[str, float]) -> bool:
    """Input batches far below 0 and far above 1, roughly symmetric about their mean: added noise."""
    spread = stats["max"] - stats["min"]
    lopsided = abs((stats["max"] - stats["mean"]) - (stats["mean"] - stats["min"])) / spread if spread > 0 else 1.0
    return (
        stats["std"] >= T.NOISE_MIN_STD
        and stats["min"] <= stats["mean"] - T.NOISE_EXTENT
        and stats["max"] >= stats["mean"] + T.NOISE_EXTENT
        and lopsided <= T.NOISE_SYMMETRY
    )


def inputs_raw(view: RunView) -> bool:
    stats = input_stats(view)
    return bool(stats and stats["max"] >= T.INPUT_RAW_MAX and stats["min"] >= T.INPUT_RAW_MIN)


def loss_progress(view: RunView):
    """(start, now, share of the start gained, recent steps) of the training loss: the start its
    first records (a per-epoch log's first few epochs), now the last LR_LOW_MIN_STEPS steps; None
    before the run is that long or without a finite start."""
    recent = view.recent(LOSS, T.LR_LOW_MIN_STEPS)
    head_steps, start = view.head(LOSS)
    if view.per_epoch:
        head_steps, start = head_steps[: T.EPOCH_MIN_RECORDS], start[: T.EPOCH_MIN_RECORDS]
    if recent is None or not finite(start).size:
        return None
    steps, loss = recent
    first, now = median(start), median(loss)
    return first, now, (first - now) / first if first > 0 else 0.0, steps, head_steps

"""Rules about what the model is fed: inputs not normalised, inputs drowned in noise."""

from __future__ import annotations

import math

from core.doctor import thresholds as T
from core.doctor.context import input_stats, noise_like
from core.doctor.evidence import fmt, median, pct
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.tags import ACCURACY, INPUT_STD


def _onset(view: RunView) -> int:
    steps, _ = view.tail(INPUT_STD, T.WINDOW)
    return int(steps[0]) if steps.size else view.upto


def check_input_scale(view: RunView) -> Verdict | None:
    stats = input_stats(view)
    if stats is None or noise_like(stats):
        return None
    raw = stats["max"] >= T.INPUT_RAW_MAX and stats["min"] >= T.INPUT_RAW_MIN
    if not raw and stats["std"] < T.INPUT_LARGE_STD and abs(stats["mean"]) < T.INPUT_LARGE_STD:
        return None
    described = f"input batches range {fmt(stats['min'])} to {fmt(stats['max'])}, mean {fmt(stats['mean'])}, std {fmt(stats['std'])}"
    what = " (raw 0-255 pixel values)" if raw and T.INPUT_BYTE_MAX_LOW <= stats["max"] <= T.INPUT_BYTE_MAX_HIGH else ""
    return Verdict(
        severity="critical" if stats["max"] >= T.INPUT_CRITICAL_MAX else "warning",
        step=_onset(view),
        layers=("input",),
        evidence=f"{described}{what}; expected [0, 1] or mean 0 / std 1",
        explanation=(
            "The first layer's pre-activations scale with the inputs: pixels 255x too large make them 255x too "
            "large, so the logits, the loss and the gradients explode (or sigmoids saturate) from the first step, "
            "and no learning rate suits every layer. Scale pixels to [0, 1] or standardise them."
        ),
        fixes=("normalize",),
        confidence=0.9,
    )


def check_input_noise(view: RunView) -> Verdict | None:
    signs = []
    stats = input_stats(view)
    if stats is not None and noise_like(stats):
        noise = math.sqrt(max(stats["std"] ** 2 - T.CLEAN_PIXEL_STD**2, 0.0))
        signs.append(
            f"training inputs range {fmt(stats['min'])} to {fmt(stats['max'])} with std {fmt(stats['std'])}, "
            f"symmetric about {fmt(stats['mean'])}: noise of std ~{noise:.1f} on pixels whose own std is "
            f"~{T.CLEAN_PIXEL_STD} (look at the input images)"
        )
    gap = _train_below_test(view)
    if gap:
        signs.append(gap)
    if not signs:
        return None
    return Verdict(
        severity="warning",
        step=_onset(view),
        layers=("input",),
        evidence="; ".join(signs),
        explanation=(
            "Noise much larger than the signal hides the digits: the model sees mostly static in training and "
            "fits the noise, so training accuracy stays low. The clean test images are easier than the training "
            "images, which is why test accuracy beats training accuracy. Noise can regularise, but only at a "
            "scale well below the data's own spread."
        ),
        fixes=("no_noise",),
        confidence=0.9 if len(signs) == 2 else (0.8 if stats is not None else 0.6),
    )


def _train_below_test(view: RunView) -> str:
    val_steps, val = view.val_tail(ACCURACY, 3)
    if not val.size or not math.isfinite(val[-1]) or not view.has(ACCURACY):
        return ""
    steps, acc = view.tail(ACCURACY, T.WINDOW)
    if steps.size < view.min_records or steps[-1] < val_steps[-1] - 5 * T.WINDOW:
        return ""
    train = float(median(acc))
    test = float(val[-1])
    if test - train < T.TRAIN_BELOW_TEST:
        return ""
    return f"training batch accuracy {pct(train)} while test accuracy is {pct(test)} (step {val_steps[-1]})"

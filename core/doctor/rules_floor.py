"""Rule about probabilities fed to a loss that expects logits (softmax applied twice): the loss
floor ln(1 + (K-1)/e), the output bias gradient ~1/K too small, logits living in [0, 1]."""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import batch_size, window_median
from core.doctor.evidence import finite, fmt, hist_range, median, pct
from core.doctor.findings import Verdict
from core.doctor.refute import below_floor
from core.doctor.view import RunView
from core.schema.tags import ACCURACY, BIAS, GRAD_NORM, LOGITS, LOSS, OUTPUT_LAYER, layer_tag, softmax_floor


def _logits_are_probabilities(view: RunView) -> str:
    """A `logits` histogram (what the loss was handed) living inside [0, 1] after the start:
    probabilities, not logits (raw logits spread over both signs and grow as the net learns)."""
    snaps = view.hists(LOGITS)[1:]
    if len(snaps) < 2:
        return ""
    lows, highs = zip(*(hist_range(s) for s in snaps))
    if min(lows) >= -1e-6 and max(highs) <= 1 + 1e-6 and max(highs) > min(lows):
        return (f"the logits histogram stays within [{fmt(min(lows))}, {fmt(max(highs))}] over steps "
                f"{snaps[0].step}-{snaps[-1].step}: the loss is handed probabilities, not logits")
    return ""


def _output_bias_gradient(view: RunView, level: float, records: int) -> tuple[float, float] | None:
    """(measured, expected) output bias gradient norm while the loss is near chance: softmax
    cross-entropy on logits must show the label noise of a batch there, sqrt((1 - 1/K) / B)."""
    bias_tag = next((layer_tag(GRAD_NORM, layer, BIAS) for layer in view.output_layers
                     if view.has(layer_tag(GRAD_NORM, layer, BIAS))), layer_tag(GRAD_NORM, OUTPUT_LAYER, BIAS))
    size = batch_size(view)
    if not (view.has(bias_tag) and size and abs(level - view.chance_loss) <= T.FLOOR_NEAR_CHANCE):
        return None
    measured = window_median(view, bias_tag, records)
    return (measured, math.sqrt((1 - 1 / view.num_classes) / size)) if measured > 0 else None


def handed_logits(view: RunView) -> bool:
    """The log shows the loss was handed logits (no second softmax): it went below the floor, its
    logits histogram went negative, the output bias gradient has the size a logits loss gives,
    or the model config has no softmax before a from_logits loss."""
    if below_floor(view):
        return True
    steps, loss = view.tail(LOSS, T.WINDOW)
    if finite(loss).size:
        bias = _output_bias_gradient(view, float(median(loss)), loss.size)
        if bias is not None and bias[0] / bias[1] > T.FLOOR_BIAS_GRAD_RATIO:
            return True
    model = view.model()
    return bool(model.get("output_activation")) and not (
        model.get("output_activation") == "softmax" and model.get("from_logits") is True)


def check_loss_floor(view: RunView) -> Verdict | None:
    floor = softmax_floor(view.num_classes)
    chance = view.chance_loss
    steps, loss = view.tail(LOSS, T.WINDOW)
    if finite(loss).size < view.min_records or finite(loss).size < loss.size:
        return None
    signs = []
    onset = int(steps[0])
    # Early: near-uniform predictions with an output-bias gradient ~1/K of what a logits loss must show.
    level = float(median(loss))
    bias = _output_bias_gradient(view, level, loss.size)
    if bias is not None and bias[0] / bias[1] <= T.FLOOR_BIAS_GRAD_RATIO:
        (measured, expected), size = bias, batch_size(view)
        signs.append(
            f"output bias gradient norm {fmt(measured)} at loss {level:.3f}, {measured / expected:.2f}x the "
            f"{fmt(expected)} that softmax cross-entropy on logits must show there (the label noise of a "
            f"batch of {size}, sqrt((1 - 1/{view.num_classes}) / {size})): the ~1/{view.num_classes} factor "
            "of a second softmax"
        )
    # Late: high accuracy, yet the loss never goes below the floor.
    if view.has(ACCURACY):
        # Accuracy now (the last few records: a window of epoch means would reach back to early epochs).
        accuracy = window_median(view, ACCURACY, view.min_records)
        lowest = float(np.min(loss))
        if accuracy >= T.FLOOR_ACCURACY and lowest >= floor - T.FLOOR_MARGIN:
            signs.append(
                f"training accuracy {pct(accuracy)} yet the loss never goes below {lowest:.3f} "
                f"(floor ln(1 + {view.num_classes - 1}/e) = {floor:.4f})"
            )
    probabilities = _logits_are_probabilities(view)
    if probabilities:
        signs.append(probabilities)
    model = view.model()
    if model.get("output_activation") == "softmax" and model.get("from_logits") is True:
        signs.append(f"from the model config: the output layer applies softmax and the loss ({model.get('loss')}) "
                     "has from_logits=True")
    if not signs:
        return None
    if len(signs) == 1 and "floor ln" not in signs[0]:
        signs.append(f"the loss can never fall below ln(1 + {view.num_classes - 1}/e) = {floor:.4f}")
    return Verdict(
        severity="critical",
        step=onset,
        layers=(OUTPUT_LAYER,),
        evidence="; ".join(signs),
        explanation=(
            "softmax_cross_entropy_with_logits applies softmax itself. Fed probabilities (softmax already "
            "applied), it sees 'logits' in [0, 1], so even a perfect prediction (1 for the right class, 0 "
            f"elsewhere) costs ln(1 + (K-1)/e) = {floor:.4f} for K = {view.num_classes}, and the second softmax "
            "shrinks every gradient ~K-fold. Accuracy can still rise (the argmax survives), but slowly, and the "
            "loss stalls above the floor. Feed the raw logits to the loss."
        ),
        fixes=("logits",),
        confidence=0.9 if len(signs) > 1 and "floor ln" in signs[-1] else 0.8,
    )

"""Rule read from a loss that sits at chance (ln K), and which of the other signals says why."""

from __future__ import annotations

import math

from core.doctor import thresholds as T
from core.doctor.context import input_stats, inputs_raw, kernel_grad_ladder, noise_like, window_median
from core.doctor.evidence import finite, fmt, median, orders, pct
from core.doctor.findings import Verdict
from core.doctor.rules_lr import kernel_update_ratios
from core.doctor.view import RunView
from core.schema.tags import ACCURACY, ACTIVATION_STD, KERNEL, LOSS, WEIGHT_NORM


def check_loss_at_chance(view: RunView) -> Verdict | None:
    recent = view.recent(LOSS, T.CHANCE_MIN_STEPS)
    if recent is None:
        return None
    steps, loss = recent
    if finite(loss).size < loss.size:
        return None  # NaN is its own finding
    chance = view.chance_loss
    half = loss.size // 2
    level = float(median(loss))
    fall = float(median(loss[:half]) - median(loss[half:]))
    if abs(level - chance) > T.CHANCE_TOLERANCE or fall > T.CHANCE_TREND:
        return None
    parts = [f"loss {level:.4f} over {view.unit}s {steps[0]}-{steps[-1]} (chance: {view.chance_loss_name} = {chance:.4f})"]
    if view.has(ACCURACY):
        accuracy = window_median(view, ACCURACY, steps.size)
        if accuracy > view.chance_accuracy + T.CHANCE_ACCURACY_MARGIN:
            return None
        parts.append(f"training accuracy {pct(accuracy)} (chance {pct(view.chance_accuracy)})")
    _, val = view.val_tail(ACCURACY, 1)
    if val.size and val[-1] > view.chance_accuracy + T.CHANCE_ACCURACY_MARGIN:
        return None  # the latest test-set evaluation says it learned something
    if val.size:
        parts.append(_predicts_majority(view, float(val[-1])))
    fixes, why = _chance_cause(view)
    parts.append(why)
    return Verdict(
        severity="critical",
        step=int(steps[0]),
        layers=(),
        evidence="; ".join(p for p in parts if p),
        explanation=(
            f"A loss of ln {view.num_classes} is what guessing uniformly costs: the outputs carry no information "
            "about the input, so the net predicts one class or the class prior for every image. Either no signal "
            "reaches the weights that matter (dead or saturated units, vanishing gradients, tiny steps) or the "
            "labels carry none (labels shuffled apart from their images)."
        ),
        fixes=fixes,
        confidence=0.9 if view.has(ACCURACY) else 0.7,
    )


def _predicts_majority(view: RunView, test_accuracy: float) -> str:
    """The prior-only fingerprint: test accuracy exactly the test share of the training
    set's most frequent label (computed from the run's own class balance)."""
    balance = view.balance
    if balance is None or balance.majority is None:
        return ""
    share = balance.test_share(balance.majority)
    if abs(test_accuracy - share) > T.FINGERPRINT_EXAMPLES * balance.test_resolution:
        return ""
    return (
        f"test accuracy {test_accuracy:.4f}: the share of '{balance.majority}'s in the test set, the most frequent "
        f"training label, so it predicts '{balance.majority}' for everything"
    )


def _chance_cause(view: RunView) -> tuple[tuple[str, ...], str]:
    """Which fix the other signals point to when the loss sits at chance."""
    stats = input_stats(view)
    if stats is not None and noise_like(stats):
        return ("no_noise",), "the training inputs are mostly noise"
    if inputs_raw(view):
        return ("normalize",), "the inputs are raw pixel values"
    for layer, tag in view.layered(WEIGHT_NORM, KERNEL, hidden_only=True):
        start = view.head(tag)[1]
        if start.size and start[0] == 0:
            return ("init",), f"{layer} weights start at exactly 0: every unit is a copy of the others"
    ladder = kernel_grad_ladder(view)
    hidden = [(l, n) for l, n in ladder if l not in view.output_layers]
    if hidden and all(n == 0 for _, n in hidden):
        return ("init",), "hidden kernel gradients are exactly 0: no unit passes a signal"
    if len(ladder) >= 2:
        top = max(n for _, n in ladder)
        if ladder[0][1] > 0 and orders(ladder[0][1], top) >= T.VANISH_ORDERS:
            return ("activation", "init", "depth"), "the first layer's gradient is vanishingly small"
    shrinking = _shrinking_signal(view)
    if shrinking:
        return ("init", "depth"), shrinking
    ratios = kernel_update_ratios(view)
    if ratios and max(ratios.values()) < T.LR_LOW_UPDATE_RATIO:
        return ("lr_up",), f"weights change by at most {fmt(max(ratios.values()))} of their size per step"
    if ladder and not view.has_val(ACCURACY):
        # Labels without information and inputs drowned in noise both look like this in training;
        # only the test set tells them apart (clean test images score above chance, shuffled labels not).
        return (), ("yet gradients flow to every layer: the labels carry no signal about the images, or the "
                    "images are drowned in noise; a test-set accuracy would tell the two apart")
    if ladder and not ratios and any(n > 0 for _, n in hidden):
        return ("shuffle_labels_off",), (
            "yet gradients flow to every layer: the labels seem to carry no signal about the images "
            "(shuffled apart from them?)"
        )
    if ratios and ladder:
        return ("shuffle_labels_off",), (
            f"yet gradients flow to every layer and weights move ({fmt(min(ratios.values()))}-"
            f"{fmt(max(ratios.values()))} of their size per step): the labels seem to carry no signal about the "
            "images (shuffled apart from them?)"
        )
    return (), ""


def _shrinking_signal(view: RunView) -> str:
    """Weights too small for a deep net: the forward signal fades layer by layer, so the
    top layers see almost nothing of the input (a small init, not the labels)."""
    stds = [(layer, median(finite(view.head(tag)[1]))) for layer, tag in view.layered(ACTIVATION_STD, hidden_only=True)]
    stds = [(layer, std) for layer, std in stds if math.isfinite(std)]
    if len(stds) < 3 or stds[0][1] <= 0:
        return ""
    (first, first_std), (last, last_std) = stds[0], stds[-1]
    if orders(last_std, first_std) < T.SHRINKING_SIGNAL_ORDERS:
        return ""
    return (
        f"the forward signal fades layer by layer: activation std {fmt(first_std)} at {first}, "
        f"{fmt(last_std)} at {last}, so the weights are too small for this depth"
    )

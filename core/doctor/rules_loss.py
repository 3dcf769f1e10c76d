"""Rules read from the loss curve and the size of each update: loss stuck at chance,
a loss floor from probabilities fed to a logits loss, learning rate too high or too low."""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import batch_size, input_stats, inputs_raw, kernel_grad_ladder, noise_like, window_median
from core.doctor.derived import weight_movements
from core.doctor.evidence import finite, fmt, hist_range, kendall_tau, median, orders, pct
from core.doctor.findings import Verdict
from core.doctor.rules_signal import weight_histogram_growth
from core.doctor.view import RunView
from core.schema.tags import (
    ACCURACY,
    ACTIVATION_STD,
    BIAS,
    GRAD_NORM,
    KERNEL,
    LOGITS,
    LOSS,
    OUTPUT_LAYER,
    UPDATE_RATIO,
    WEIGHT_NORM,
    layer_tag,
    softmax_floor,
)

# ------------------------------------------------------------------ loss stuck at chance


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
    ratios = _kernel_update_ratios(view)
    if ratios and max(ratios.values()) < T.LR_LOW_UPDATE_RATIO:
        return ("lr_up",), f"weights change by at most {fmt(max(ratios.values()))} of their size per step"
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


def _kernel_update_ratios(view: RunView) -> dict[str, float]:
    ratios = {}
    for layer, tag in view.layered(UPDATE_RATIO, KERNEL):
        _, values = view.tail(tag, T.WINDOW)
        if finite(values).size < view.min_records:
            continue
        value = median(values)
        if math.isfinite(value) and value > 0:  # exactly 0 means no gradient, not a small step
            ratios[layer] = value
    return ratios


# ----------------------------------------------------- probabilities fed to a logits loss


def check_loss_floor(view: RunView) -> Verdict | None:
    floor = softmax_floor(view.num_classes)
    chance = view.chance_loss
    steps, loss = view.tail(LOSS, T.WINDOW)
    if finite(loss).size < view.min_records or finite(loss).size < loss.size:
        return None
    signs = []
    onset = int(steps[0])
    # Early: near-uniform predictions with an output-bias gradient ~1/K of what a logits loss must show.
    bias_tag = next((layer_tag(GRAD_NORM, layer, BIAS) for layer in view.output_layers
                     if view.has(layer_tag(GRAD_NORM, layer, BIAS))), layer_tag(GRAD_NORM, OUTPUT_LAYER, BIAS))
    size = batch_size(view)
    level = float(median(loss))
    if view.has(bias_tag) and size and abs(level - chance) <= T.FLOOR_NEAR_CHANCE:
        measured = window_median(view, bias_tag, loss.size)
        expected = math.sqrt((1 - 1 / view.num_classes) / size)
        if measured > 0 and measured / expected <= T.FLOOR_BIAS_GRAD_RATIO:
            signs.append(
                f"output bias gradient norm {fmt(measured)} at loss {level:.3f}, {measured / expected:.2f}x the "
                f"{fmt(expected)} that softmax cross-entropy on logits must show there (the label noise of a "
                f"batch of {size}, sqrt((1 - 1/{view.num_classes}) / {size})): the ~1/{view.num_classes} factor "
                "of a second softmax"
            )
    # Late: high accuracy, yet the loss never goes below the floor.
    if view.has(ACCURACY):
        accuracy = window_median(view, ACCURACY, loss.size)
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


# ------------------------------------------------------------------------ learning rate


def check_lr_too_high(view: RunView) -> Verdict | None:
    steps, loss = view.tail(LOSS)
    signs, layers, severity = [], [], "warning"
    chance = view.chance_loss
    ratios = _kernel_update_ratios(view)
    if ratios:
        layer, top = max(ratios.items(), key=lambda item: item[1])
        if top >= T.LR_HIGH_UPDATE_RATIO:
            size = f"{top:.3g}x" if top >= 10 else pct(top)
            signs.append(f"{layer} weights change by {size} of their size per step (healthy MNIST nets: up to {pct(T.HEALTHY_UPDATE_RATIO_MAX)})")
            layers.append(layer)
    thrown = weight_histogram_growth(view)
    if thrown:
        signs.append(f"{thrown[0]}: weights thrown far by the updates")
        layers.append(thrown[1])
    growth = _weight_growth(view)
    if growth:
        layer, before, after, records = growth
        signs.append(
            f"{layer} kernel norm grew {fmt(before)} -> {fmt(after)} in {records} steps "
            f"(healthy MNIST nets: at most {T.LR_HEALTHY_GROWTH}x in {T.WINDOW} steps)"
        )
        layers.append(layer)
    warmup = 1 if view.per_epoch else T.LR_WARMUP_RECORDS
    _head_steps, head = view.head(LOSS)
    if not view.per_epoch and head.size >= 3 and math.isfinite(head[0]) and head[0] < 2 * chance:
        jump = float(np.max(finite(head[1:]), initial=0.0))
        if jump >= T.LR_SPIKE_LOSS * chance:
            signs.append(f"the loss starts at {fmt(head[0])} and jumps to {fmt(jump)} within the first "
                         f"{head.size} updates: the first steps threw the weights far from a sane start")
    late = finite(loss[steps >= view.first_step() + warmup])
    if view.per_epoch and late.size >= T.EPOCH_MIN_RECORDS:
        best, now = float(np.min(late[:-1])), float(late[-1])
        if now >= T.LR_REBOUND * best and now >= T.LR_REBOUND_FLOOR * chance:
            signs.append(f"the epoch loss bottomed out at {fmt(best)} and climbed back to {fmt(now)} while still "
                         f"{pct(now / chance)} of chance: the steps are too large for it to settle")
    if late.size >= view.min_records:
        peak = float(np.max(late[-T.WINDOW:]))
        if peak >= T.LR_SPIKE_LOSS * chance:
            signs.append(f"loss jumps to {fmt(peak)} after warm-up ({T.LR_SPIKE_LOSS:.0f}x chance = {fmt(T.LR_SPIKE_LOSS * chance)})")
        if late.size >= 2 * T.WINDOW:
            before, now = float(median(late[-2 * T.WINDOW:-T.WINDOW])), float(median(late[-T.WINDOW:]))
            if now >= T.LR_DIVERGE_FACTOR * before and now >= chance:
                signs.append(f"loss rising: median {fmt(before)} -> {fmt(now)} over the last {2 * T.WINDOW} records")
                severity = "critical"
    if not signs:
        return None
    return Verdict(
        severity=severity,
        step=int(steps[-T.WINDOW:][0]) if steps.size else view.upto,
        layers=tuple(dict.fromkeys(layers)),
        evidence="; ".join(signs),
        explanation=(
            "Each update should change the weights by a small fraction of their size (around 0.1-1%). Far larger "
            "steps overshoot the valley of the loss: it jumps around or climbs instead of falling, weights grow "
            "fast, and large updates kill ReLUs or blow the weights up. A smaller learning rate takes steps the "
            "loss surface can follow."
        ),
        fixes=("normalize", "lr_down") if inputs_raw(view) else ("lr_down",),
        confidence=min(0.9, 0.55 + 0.15 * len(signs)),
    )


def _weight_growth(view: RunView) -> tuple[str, float, float, int] | None:
    """The kernel whose norm grew most over the window, if past the healthy bound."""
    best = None
    for layer, tag in view.layered(WEIGHT_NORM, KERNEL):
        steps, values = view.tail(tag, T.WINDOW)
        if values.size < view.min_records or not np.isfinite(values).all():
            continue
        before, after = float(values[0]), float(values[-1])
        if before < T.LR_MIN_WEIGHT_NORM:
            continue  # growth from (near) zero is an init problem, not a step-size one
        if after / before >= T.LR_HIGH_WEIGHT_GROWTH and (best is None or after / before > best[2] / best[1]):
            best = (layer, before, after, int(steps[-1] - steps[0]))
    return best


_LR_LOW_WHY = (
    "Each update changes the weights by a tiny fraction of their size, so the loss creeps down and the "
    "run would need many times more steps. A larger learning rate (or Adam) takes bigger steps."
)


def check_lr_too_low(view: RunView) -> Verdict | None:
    ratios = _kernel_update_ratios(view)
    if ratios and max(ratios.values()) >= T.LR_LOW_UPDATE_RATIO:
        return None
    recent = view.recent(LOSS, T.LR_LOW_MIN_STEPS)
    head_steps, start = view.head(LOSS)
    if view.per_epoch:  # the start of a per-epoch log is its first few epochs
        head_steps, start = head_steps[: T.EPOCH_MIN_RECORDS], start[: T.EPOCH_MIN_RECORDS]
    if recent is None or not finite(start).size:
        return None
    steps, loss = recent
    first, now = median(start), median(loss)
    gained = (first - now) / first if first > 0 else 0.0
    if gained >= T.LR_LOW_PROGRESS:
        return None
    if not ratios:
        if view.layered(UPDATE_RATIO, KERNEL):
            return None  # logged, and exactly 0: no gradient at all, not a small step
        if steps[0] <= head_steps[-1]:
            return None  # the start and "now" still overlap: too early to call progress slow
        return _lr_too_low_inferred(view, first, now, gained, int(steps[0]))
    layer, top = max(ratios.items(), key=lambda item: item[1])
    return Verdict(
        severity="warning",
        step=int(steps[0]),
        layers=(),
        evidence=(
            f"the largest per-step weight change is {fmt(top)} of the weights ({layer}); the loss went "
            f"{fmt(first)} -> {fmt(now)} ({pct(gained)}) in {steps[-1] - view.first_step()} steps"
        ),
        explanation=_LR_LOW_WHY,
        fixes=("lr_up",),
        confidence=0.7,
    )


def _lr_too_low_inferred(view: RunView, first: float, now: float, gained: float, onset: int) -> Verdict | None:
    """No update ratios: every kernel's histogram (nearly) unmoved, or every kernel gradient norm
    as large at the end as at the start (the weights it depends on are not changing)."""
    span = f"the loss went {fmt(first)} -> {fmt(now)} ({pct(gained)}) by {view.unit} {view.upto}"
    moved = weight_movements(view)
    if moved and max(m for _, m, _ in moved) < T.LR_LOW_MOVEMENT:
        layer, top, _ = max(moved, key=lambda item: item[1])
        sign = (f"inferred from the weight histograms: no kernel moved more than {fmt(top)} of its spread ({layer}) "
                f"over the run (healthy nets: 1-90%)")
    elif (steady := _steady_gradients(view)) and not moved:
        sign = f"inferred from the gradient norms: {steady}"
    elif (descent := _steady_descent(view)) and not moved and not view.layered(GRAD_NORM, KERNEL):
        sign = f"inferred from the loss alone: {descent}"
    else:
        return None
    return Verdict(
        severity="warning",
        step=onset,
        layers=(),
        evidence=f"{sign}; {span} (log update_ratio/<layer>/kernel to measure the step size directly)",
        explanation=_LR_LOW_WHY,
        fixes=("lr_up",),
        confidence=T.CONFIDENCE_INFERRED - 0.1,
    )


def _steady_descent(view: RunView) -> str:
    """A loss that falls steadily, train and test alike, yet slowly: what small steps on a sound
    model do. A model that cannot learn (dead units, vanishing gradients) leaves the loss flat
    with noise, and labels that carry no information let the training loss creep down while the
    test loss rises. The optimizer's learning rate is quoted when the model config has it."""
    trends = {}
    for name, (_, values) in (("training", view.tail(LOSS)), ("test", view.val_tail(LOSS))):
        values = finite(values)
        if values.size < T.EPOCH_MIN_RECORDS:
            continue
        chunks = [float(median(chunk)) for chunk in np.array_split(values, min(T.DESCENT_CHUNKS, values.size))]
        trends[name] = (kendall_tau(chunks), chunks[0], chunks[-1], len(chunks))
    if "training" not in trends or any(trend[0] > -T.STEADY_DESCENT_TAU for trend in trends.values()):
        return ""
    text = " and ".join(f"the {name} loss falls steadily, {fmt(first)} -> {fmt(last)} (Kendall's tau {tau:.2f} over "
                        f"{count} consecutive stretches)" for name, (tau, first, last, count) in trends.items())
    model = view.model()
    if model.get("learning_rate"):
        text += f"; {model.get('optimizer', 'the optimizer')} runs at learning rate {fmt(model['learning_rate'])}"
    return text


def _steady_gradients(view: RunView) -> str:
    """Every kernel gradient norm at the end within LR_LOW_GRAD_STEADY of its start, none zero."""
    ratios = []
    for layer, tag in view.layered(GRAD_NORM, KERNEL):
        start, end = median(finite(view.head(tag)[1])), median(finite(view.tail(tag, T.WINDOW)[1]))
        if not (start > 0 and end > 0):
            return ""
        ratios.append((layer, max(start, end) / min(start, end)))
    if len(ratios) < 2 or max(r for _, r in ratios) > T.LR_LOW_GRAD_STEADY:
        return ""
    return (f"every kernel gradient norm ends within {pct(max(r for _, r in ratios) - 1)} of where it started "
            f"({len(ratios)} kernels): the weights it depends on have hardly changed")
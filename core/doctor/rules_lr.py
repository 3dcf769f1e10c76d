"""Rules about the size of each update: learning rate too high or too low."""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import inputs_raw, loss_progress
from core.doctor.derived import weight_movements
from core.doctor.evidence import finite, fmt, kendall_tau, median, pct
from core.doctor.findings import Verdict
from core.doctor.rules_exploding import weight_histogram_growth
from core.doctor.rules_floor import handed_logits
from core.doctor.view import RunView
from core.schema.tags import GRAD_NORM, KERNEL, LOSS, UPDATE_RATIO, WEIGHT_NORM


def kernel_update_ratios(view: RunView) -> dict[str, float]:
    ratios = {}
    for layer, tag in view.layered(UPDATE_RATIO, KERNEL):
        _, values = view.tail(tag, T.WINDOW)
        if finite(values).size < view.min_records:
            continue
        value = median(values)
        if math.isfinite(value) and value > 0:  # exactly 0 means no gradient, not a small step
            ratios[layer] = value
    return ratios


def check_lr_too_high(view: RunView) -> Verdict | None:
    steps, loss = view.tail(LOSS)
    severity = "warning"
    chance = view.chance_loss
    signs, layers = _weight_signs(view)
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


def _weight_signs(view: RunView) -> tuple[list[str], list[str]]:
    """Signs of too-large steps in the weights: per-step changes, histograms thrown far, kernel norms
    growing fast; with the layers they show in."""
    signs, layers = [], []
    ratios = kernel_update_ratios(view)
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
    return signs, layers


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
    ratios = kernel_update_ratios(view)
    if ratios and max(ratios.values()) >= T.LR_LOW_UPDATE_RATIO:
        return None
    progress = loss_progress(view)
    if progress is None:
        return None
    first, now, gained, steps, head_steps = progress
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
    as large at the end as at the start (the weights it depends on are not changing). Only where
    the log shows the loss was handed logits: a second softmax looks the same (rules_floor.py)."""
    if not handed_logits(view):
        return None  # a second softmax shrinks every gradient ~K-fold: the same slow loss, the same still weights
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

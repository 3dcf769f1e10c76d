"""Rule about a signal that grows through the net: exploding activations or gradients, and
weights thrown far by large updates."""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.derived import hidden_activation, kernel_gains
from core.doctor.evidence import finite, fmt, geometric_step, hist_abs_max, hist_nonfinite, median
from core.doctor.findings import Verdict
from core.doctor.rules_nonfinite import blowup_fixes
from core.doctor.view import RunView
from core.schema.tags import ACTIVATION_STD, GRAD_NORM, KERNEL, LOSS, WEIGHTS
from core.tensorboard.layers import FIRST_LAYER


def _start_or_now(view: RunView, tag: str, head: bool) -> float:
    """The value at the first record (init problems show there, before anything moved),
    or the median of the recent window."""
    if head:
        _, values = view.head(tag)
        good = finite(values[:1])
        return float(good[0]) if good.size else math.nan
    _, values = view.tail(tag, T.WINDOW)
    return median(values)


def _activation_ladder(view: RunView, head: bool) -> list[tuple[str, float]]:
    ladder = []
    for layer, tag in view.layered(ACTIVATION_STD, hidden_only=True):
        value = _start_or_now(view, tag, head)
        if math.isfinite(value):
            ladder.append((layer, value))
    return ladder


def _grad_peak(view: RunView, head: bool) -> tuple[str, float] | None:
    best = None
    for layer, tag in view.layered(GRAD_NORM, KERNEL):
        value = _start_or_now(view, tag, head)
        if math.isfinite(value) and (best is None or value > best[1]):
            best = (layer, value)
    return best


def check_exploding(view: RunView) -> Verdict | None:
    signs, layers = [], []
    from_start = False
    start = view.first_step()
    for head in (True, False):
        when = f"at step {start}" if head else "now"
        ladder = _activation_ladder(view, head)
        if len(ladder) >= T.EXPLODE_MIN_LAYERS:
            growth = geometric_step(ladder[0][1], ladder[-1][1], len(ladder) - 1)
            if growth >= T.EXPLODE_LAYER_GROWTH and ladder[-1][1] >= T.EXPLODE_ACTIVATION_STD:
                signs.append(
                    f"activation std grows {fmt(ladder[0][1])} -> {fmt(ladder[-1][1])} from {ladder[0][0]} to "
                    f"{ladder[-1][0]} ({growth:.2f}x per layer) {when}"
                )
                layers.append(ladder[-1][0])
                from_start |= head
        if ladder and len(ladder) < T.EXPLODE_MIN_LAYERS:
            top = max(ladder, key=lambda item: item[1])
            if top[1] >= T.EXPLODE_ACTIVATION_STD:
                signs.append(f"{top[0]} activation std {fmt(top[1])} {when}")
                layers.append(top[0])
                from_start |= head
        peak = _grad_peak(view, head)
        if peak and peak[1] >= T.EXPLODE_GRAD_NORM:
            signs.append(f"{peak[0]} gradient norm {fmt(peak[1])} {when} (healthy MNIST nets: below ~{T.HEALTHY_GRAD_NORM_MAX:.0f})")
            layers.append(peak[0])
            from_start |= head
        if signs:
            break  # the start already explains it; "now" would repeat it
    first_loss = _start_or_now(view, LOSS, head=True)
    chance = view.chance_loss
    if math.isfinite(first_loss) and first_loss >= T.EXPLODE_LOSS:
        signs.append(f"loss {fmt(first_loss)} at step {start} (chance is {chance:.2f}): the logits are huge")
        from_start = True
    inferred = False
    if not signs and not view.layered(ACTIVATION_STD):  # measured activations leave nothing to infer
        gain_sign = _init_gain_growth(view)
        if gain_sign is None:
            return None
        signs.append(gain_sign[0])
        layers.append(gain_sign[1])
        from_start = inferred = True
    if not signs:
        return None
    steps, _ = view.head(LOSS)
    onset = int(steps[0]) if from_start and steps.size else _tail_start(view)
    return Verdict(
        severity="critical",
        step=onset,
        layers=tuple(dict.fromkeys(layers)),
        evidence="; ".join(signs),
        explanation=(
            "Each layer multiplies the size of its input by roughly (weight scale x sqrt(width)); when that "
            "factor is above 1 the activations grow geometrically with depth, the logits become huge, the loss "
            "and gradients follow and a single update can throw the weights to Inf. Weights scaled to the layer "
            "width (He for ReLU) keep the factor near 1; fewer layers or smaller steps limit the damage."
        ),
        fixes=blowup_fixes(view, from_start),
        confidence=T.CONFIDENCE_INFERRED if inferred else min(0.95, 0.6 + 0.12 * len(signs)),
    )


def _init_gain_growth(view: RunView) -> tuple[str, str] | None:
    """Logs without activations or gradients: hidden-to-hidden ReLU kernels whose init scales
    each layer's signal up (std x sqrt(fan in) past EXPLODE_INIT_GAIN; He gives 1.41). The
    first kernel is left out: how large its output is depends on the unknown inputs."""
    if hidden_activation(view) not in ("relu", "unknown"):
        return None
    gains = [(layer, gain, source) for layer, gain, source in kernel_gains(view)[1:]
             if layer not in view.output_layers and layer != FIRST_LAYER]
    if len(gains) < T.EXPLODE_MIN_LAYERS - 1:
        return None
    typical = float(np.exp(np.mean(np.log([max(g, 1e-12) for _, g, _ in gains]))))
    if typical < T.EXPLODE_INIT_GAIN:
        return None
    growth = typical / math.sqrt(2.0)
    evidence = (
        f"inferred from {gains[0][2]} and the other hidden kernels: they start with std x sqrt(fan in) "
        f"~{typical:.2f} (He init: 1.41), so each hidden ReLU layer multiplies the signal by ~{growth:.2f}, "
        f"~{growth ** len(gains):.0f}x over {len(gains)} layers"
    )
    return evidence, gains[-1][0]


def _tail_start(view: RunView) -> int:
    steps, _ = view.tail(LOSS, T.WINDOW)
    return int(steps[0]) if steps.size else max(view.upto, 0)


def weight_histogram_growth(view: RunView) -> tuple[str, str] | None:
    """Foreign logs: a weight histogram whose range grew 100x, or past 1e3, during training (weights
    thrown far by large updates). Biases are left out: they start at 0 and grow by orders of
    magnitude in every healthy run."""
    for layer, tag in view.hist_layered(WEIGHTS):
        if "bias" in tag:
            continue
        snaps = view.hists(tag)
        snaps = [s for s in (snaps[:1] + snaps[-1:] if len(snaps) >= 2 else []) if not hist_nonfinite(s)]
        if len(snaps) < 2:
            continue
        first, last = hist_abs_max(snaps[0]), hist_abs_max(snaps[-1])
        if last >= T.EXPLODE_HIST_RANGE or (first > 0 and last / first >= T.EXPLODE_HIST_GROWTH):
            return (f"{layer} weights span +-{fmt(last)} at step {snaps[-1].step} (+-{fmt(first)} at step {snaps[0].step})", layer.split("/")[0])
    return None

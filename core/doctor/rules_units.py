"""Rules about hidden units that stopped passing signal: dead ReLUs, saturated sigmoid/tanh."""

from __future__ import annotations

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import inputs_raw, window_median
from core.doctor.evidence import finite, fmt, hist_range, pct
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.tags import (
    ACTIVATION_STD,
    ACTIVATIONS,
    DEAD_FRACTION,
    GRAD_NORM,
    KERNEL,
    OUTPUT_LAYER,
    SATURATED_FRACTION,
    WEIGHT_NORM,
    WEIGHTS,
    layer_tag,
)


def _dead_layers(view: RunView) -> list[tuple[str, float, int, str]]:
    """(layer, dead share, since step, how measured) for layers over the threshold."""
    found = []
    for layer, tag in view.layered(DEAD_FRACTION, hidden_only=True):
        steps, values = view.tail(tag)
        if finite(values).size < view.min_records:
            continue
        window = values[-T.WINDOW:]
        dead = float(np.min(window))  # dead on every batch of the window: bounded by the best batch
        if dead >= T.DEAD_FRACTION:
            since = view.held_since(tag, lambda v: v >= T.DEAD_FRACTION)
            found.append((layer, dead, since if since is not None else int(steps[-len(window)]), "batches"))
    if found:
        return found
    # Without dead_fraction: a hidden kernel whose gradient is exactly 0 on every batch
    # (nothing flows back through any unit), or activation histograms that are all zero.
    for layer, tag in view.layered(GRAD_NORM, KERNEL):
        if layer == OUTPUT_LAYER:
            continue
        steps, values = view.tail(tag)
        std_tag = layer_tag(ACTIVATION_STD, layer)
        if values.size >= view.min_records and np.all(values[-T.WINDOW:] == 0) and (
            not view.has(std_tag) or np.all(view.tail(std_tag, T.WINDOW)[1] == 0)
        ):
            found.append((layer, 1.0, view.held_since(tag, lambda v: v == 0), "zero gradient"))
    for layer, tag in view.hist_layered(ACTIVATIONS, hidden_only=True):
        snaps = view.hists(tag)
        if len(snaps) >= 2 and all(max(map(abs, hist_range(s))) <= T.EXACTLY_ZERO for s in snaps[-2:]):
            found.append((layer, 1.0, snaps[-2].step, "histogram"))
    return found


def check_dead_relu(view: RunView) -> Verdict | None:
    dead = _dead_layers(view)
    if not dead:
        return None
    worst = max(share for _, share, _, _ in dead)
    since = min(step for _, _, step, _ in dead)
    from_start = _dead_at_first_step(view, [layer for layer, _, _, _ in dead])
    parts = []
    for layer, share, step, how in dead:
        if how == "batches":
            parts.append(f"{layer}: {pct(share)} of units output 0 on every batch, steps {step}-{view.upto}")
        else:
            parts.append(f"{layer}: gradient exactly 0 and no activation, steps {step}-{view.upto}")
    for layer, _, _, _ in dead:
        grad = layer_tag(GRAD_NORM, layer, KERNEL)
        if view.has(grad) and np.all(view.tail(grad, T.WINDOW)[1] == 0):
            parts.append(f"{layer} kernel gradient norm exactly 0")
    weights = _negative_weights(view, dead[0][0])
    if weights:
        parts.append(weights)
    if inputs_raw(view):
        fixes = ("normalize", "init")
    elif from_start:
        fixes = ("init",)
    else:
        fixes = ("lr_down", "init")  # alive at first, then killed: large updates pushed them negative
    cause = (
        "Here they were dead from the first step: the initial weights and biases make every pre-activation "
        "negative (for example all-negative weights on inputs that are >= 0)."
        if from_start else
        "Here they died during training: a large update pushed their weights or bias so far negative that "
        "no input reaches them any more."
    )
    return Verdict(
        severity="critical" if worst >= T.DEAD_FRACTION_CRITICAL else "warning",
        step=since,
        layers=tuple(layer for layer, _, _, _ in dead),
        evidence="; ".join(parts),
        explanation=(
            "A ReLU outputs 0 for a negative input and passes back no gradient there. A unit that is negative "
            "for every example outputs 0 and never receives a gradient again, so it never recovers. "
            + cause
        ),
        fixes=fixes,
        confidence=min(0.95, 0.55 + 0.4 * worst),
    )


def _dead_at_first_step(view: RunView, layers: list[str]) -> bool:
    """Dead before any update could have killed them (else: alive at first, killed by training)."""
    for layer in layers:
        _, values = view.head(layer_tag(DEAD_FRACTION, layer))
        if values.size:
            if values[0] >= T.DEAD_FRACTION:
                return True
            continue
        _, grads = view.head(layer_tag(GRAD_NORM, layer, KERNEL))
        if grads.size and grads[0] == 0:
            return True
    return False


def _negative_weights(view: RunView, layer: str) -> str:
    """Evidence from a weight histogram: every first-layer weight below zero."""
    snaps = view.hists(layer_tag(WEIGHTS, layer, KERNEL))
    if snaps:
        low, high = hist_range(snaps[-1])
        if high <= 0:
            return f"all {layer} weights are negative (range {fmt(low)} to {fmt(high)} at step {snaps[-1].step})"
    return ""


def check_saturated(view: RunView) -> Verdict | None:
    saturated = []
    for layer, tag in view.layered(SATURATED_FRACTION, hidden_only=True):
        steps, values = view.tail(tag)
        if finite(values).size < view.min_records:
            continue
        share = window_median(view, tag)
        if share >= T.SATURATED_FRACTION:
            since = view.held_since(tag, lambda v: v >= T.SATURATED_FRACTION)
            saturated.append((layer, share, since if since is not None else int(steps[-T.WINDOW:][0])))
    if not saturated:
        return None
    worst = max(share for _, share, _ in saturated)
    since = min(step for _, _, step in saturated)
    fixes = ("normalize", "init", "activation") if inputs_raw(view) else ("init", "activation")
    return Verdict(
        severity="critical" if worst >= T.SATURATED_CRITICAL else "warning",
        step=since,
        layers=tuple(layer for layer, _, _ in saturated),
        evidence="; ".join(f"{layer}: {pct(share)} of outputs within 1% of an asymptote, steps {step}-{view.upto}"
                           for layer, share, step in saturated),
        explanation=(
            "Sigmoid and tanh flatten out for large inputs: a unit pinned near 0/1 (or -1/+1) has a slope "
            "close to 0, so almost no gradient passes through it and it stops learning. Weights too large for "
            "the layer width (or unscaled inputs) push the pre-activations there; Glorot init keeps them in "
            "the sloped middle, and ReLU does not saturate for positive inputs."
        ),
        fixes=fixes,
        confidence=min(0.95, 0.5 + 0.45 * worst),
    )


def check_symmetric_init(view: RunView) -> Verdict | None:
    """Hidden kernels that start at exactly zero (or one repeated value): every unit is a copy."""
    zero, flat = [], []
    for layer, tag in view.layered(WEIGHT_NORM, KERNEL, hidden_only=True):
        _, values = view.head(tag)
        if values.size and values[0] == 0:
            zero.append(layer)
    for layer, tag in view.hist_layered(WEIGHTS, KERNEL, hidden_only=True):
        snaps = view.hists(tag)
        if snaps and layer not in zero:
            low, high = hist_range(snaps[0])
            if high - low <= T.EXACTLY_ZERO * max(1.0, abs(high)):
                flat.append((layer, low, snaps[0].step))
    if not zero and not flat:
        return None
    start = view.first_step()
    parts = []
    if zero:
        parts.append(f"{', '.join(zero)} kernel norm exactly 0 after step {start}")
    parts += [f"every {layer} weight equals {fmt(value)} at step {step}" for layer, value, step in flat]
    for layer in zero:
        std_tag = layer_tag(ACTIVATION_STD, layer)
        if view.has(std_tag):
            first = float(view.head(std_tag)[1][0])
            now = window_median(view, std_tag)
            parts.append(f"{layer} activation std {fmt(first)} at step {start}, {fmt(now)} now (all units output the same)")
            break
    return Verdict(
        severity="critical",
        step=start,
        layers=tuple(zero) + tuple(layer for layer, _, _ in flat),
        evidence="; ".join(parts),
        explanation=(
            "When every weight of a layer starts at the same value, every unit of the layer computes the same "
            "output and receives the same gradient, so they stay copies of each other forever: the layer acts "
            "like a single unit. With zeros, a sigmoid layer outputs 0.5 everywhere and a ReLU layer outputs 0. "
            "Random init (Glorot for sigmoid/tanh, He for ReLU) breaks the symmetry."
        ),
        fixes=("init",),
        confidence=0.95,
    )

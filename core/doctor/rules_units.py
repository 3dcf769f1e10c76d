"""Rules about hidden units that stopped passing signal: dead ReLUs, saturated sigmoid/tanh."""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import inputs_raw, window_median
from core.doctor.derived import SATURATING, hidden_activation, kernel_gains, mean_slope, saturated_share, weight_movements
from core.doctor.evidence import finite, fmt, hist_range, median, pct
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.tags import (
    ACTIVATION_STD,
    ACTIVATIONS,
    BIAS,
    DEAD_FRACTION,
    GRAD_NORM,
    KERNEL,
    LOSS,
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
        if dead >= T.DEAD_UNITS:
            since = view.held_since(tag, lambda v: v >= T.DEAD_UNITS)
            found.append((layer, dead, since if since is not None else int(steps[-len(window)]), "batches"))
    if found:
        return found
    # Without dead_fraction: a hidden kernel whose gradient is exactly 0 on every batch
    # (nothing flows back through any unit), or activation histograms that are all zero.
    for layer, tag in view.layered(GRAD_NORM, KERNEL):
        if layer in view.output_layers:
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
    if found or view.layered(DEAD_FRACTION) or hidden_activation(view) != "relu":
        return found  # measured dead fractions (tblab's own logs) leave nothing to infer
    return _dead_from_weights(view)


def _dead_from_weights(view: RunView) -> list[tuple[str, float, int, str]]:
    """ReLU logs with weight histograms or a model config only: a hidden kernel with no positive
    weight (its inputs, pixels or ReLU outputs, are >= 0, so every pre-activation is <= 0 without
    a positive bias), a bias starting far below what the kernel can reach, or a hidden kernel of
    which not one weight changed while later layers learned (no gradient reaches it)."""
    found = []
    for layer, tag in view.hist_layered(WEIGHTS, KERNEL, hidden_only=True):
        snaps = view.hists(tag)
        if snaps and hist_range(snaps[-1])[1] <= 0 and not _positive_bias(view, layer):
            found.append((layer, 1.0, snaps[0].step, "negative weights"))
    if found:
        return found
    for layer in view.model().get("layers", [])[:-1]:
        bias, std, fan_in = layer.get("bias_const"), layer.get("kernel_std"), layer.get("fan_in")
        if bias is not None and std is not None and fan_in and layer.get("activation") == "relu":
            reach = std * math.sqrt(fan_in) * T.HIDDEN_INPUT_RMS  # typical pre-activation size before the bias
            if bias < 0 and -bias >= T.DEAD_BIAS_REACH * max(reach, 1e-12):
                found.append((layer["name"], 1.0, view.first_step(), f"bias {fmt(bias)}"))
    if found:
        return found
    moved = weight_movements(view)
    top = max((m for _, m, _ in moved), default=0.0)
    for layer, moved_by, span in moved:
        if layer in view.output_layers:
            continue
        if moved_by == 0 and top >= T.MOVEMENT_ANY and span > 0:
            found.append((layer, 1.0, view.first_step(), "frozen"))
    return found


def _bounded_by_loss(view: RunView) -> str:
    """Activation unknown: kernels far too large for ReLU (which would make the first loss huge)
    next to a moderate first loss mean bounded units, sigmoid or tanh ('sigmoid' stands for both)."""
    gains = kernel_gains(view)
    _, loss = view.head(LOSS)
    moderate_loss = loss.size and math.isfinite(loss[0]) and loss[0] < T.EXPLODE_LOSS / 2
    if gains and moderate_loss and max(gain for _, gain, _ in gains) >= 2 * T.SATURATE_PREACTIVATION_STD / T.PIXEL_INPUT_RMS:
        return "sigmoid"
    return "unknown"


def _positive_bias(view: RunView, layer: str) -> bool:
    snaps = view.hists(layer_tag(WEIGHTS, layer, BIAS))
    return bool(snaps) and hist_range(snaps[-1])[1] > 0


def check_dead_relu(view: RunView) -> Verdict | None:
    dead = _dead_layers(view)
    if not dead:
        return None
    worst = max(share for _, share, _, _ in dead)
    since = min(step for _, _, step, _ in dead)
    from_start = _dead_at_first_step(view, [layer for layer, _, _, _ in dead])
    parts, inferred = _dead_evidence(view, dead)
    if any(how == "zero gradient" for _, _, _, how in dead) and hidden_activation(view) == "unknown":
        parts.append("(the same as weights that all start at 0 would show: a weight histogram at step 0, "
                     "weights/<layer>/kernel, would tell the two apart)")
    for layer in dict.fromkeys(layer for layer, _, _, _ in dead):  # a layer can show two ways
        grad = layer_tag(GRAD_NORM, layer, KERNEL)
        if view.has(grad) and np.all(view.tail(grad, T.WINDOW)[1] == 0):
            parts.append(f"{layer} kernel gradient norm exactly 0")
    weights = _negative_weights(view, dead[0][0])
    if weights:
        parts.append(weights)
    from_start |= inferred and not _moved_before_dying(view)
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
        severity="critical" if worst >= T.DEAD_UNITS_CRITICAL else "warning",
        step=since,
        layers=tuple(layer for layer, _, _, _ in dead),
        evidence="; ".join(parts),
        explanation=(
            "A ReLU outputs 0 for a negative input and passes back no gradient there. A unit that is negative "
            "for every example outputs 0 and never receives a gradient again, so it never recovers. "
            + cause
        ),
        fixes=fixes,
        confidence=T.CONFIDENCE_INFERRED if inferred else min(0.95, 0.55 + 0.4 * worst),
    )


def _dead_evidence(view: RunView, dead: list[tuple[str, float, int, str]]) -> tuple[list[str], bool]:
    """What shows each dead layer, and whether any of it is inferred rather than measured."""
    parts = []
    inferred = False
    for layer, share, step, how in dead:
        if how == "batches":
            parts.append(f"{layer}: {pct(share)} of units output 0 on every batch, steps {step}-{view.upto}")
        elif how == "negative weights":
            low, high = hist_range(view.hists(layer_tag(WEIGHTS, layer, KERNEL))[-1])
            parts.append(f"inferred from the weight histograms: every {layer} weight is <= 0 (range {fmt(low)} to "
                         f"{fmt(high)}) and its inputs are >= 0 (pixels or ReLU outputs), so each pre-activation is "
                         "<= 0 and the ReLU outputs 0")
            inferred = True
        elif how.startswith("bias"):
            parts.append(f"inferred from the model config: {layer} is a ReLU layer whose bias starts at {how[5:]}, "
                         "far below what its kernel adds, so every pre-activation is negative")
            inferred = True
        elif how == "frozen":
            parts.append(f"inferred from the weight histograms: not one {layer} weight changed from step {step} "
                         "while later layers learned (no gradient reaches it)")
            inferred = True
        elif how == "histogram":
            parts.append(f"{layer}: every output exactly 0 in its activation histograms, steps {step}-{view.upto}")
        else:
            parts.append(f"{layer}: gradient exactly 0 and no activation, steps {step}-{view.upto}")
    return parts, inferred


def _moved_before_dying(view: RunView) -> bool:
    """A first weight histogram already far from its start (e.g. Keras' end-of-epoch snapshots
    after a huge update): killed by training rather than dead from the init."""
    return any(moved >= 1.0 for _, moved, _ in weight_movements(view))


def _dead_at_first_step(view: RunView, layers: list[str]) -> bool:
    """Dead before any update could have killed them (else: alive at first, killed by training)."""
    for layer in layers:
        _, values = view.head(layer_tag(DEAD_FRACTION, layer))
        if values.size:
            if values[0] >= T.DEAD_UNITS:
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
    inferred = ""
    if not saturated and not view.layered(SATURATED_FRACTION):
        saturated, inferred = _saturated_from_histograms(view)
    if not saturated:
        return None
    worst = max(share for _, share, _ in saturated)
    since = min(step for _, _, step in saturated)
    fixes = ("normalize", "init", "activation") if inputs_raw(view) else ("init", "activation")
    return Verdict(
        severity="critical" if worst >= T.SATURATED_CRITICAL else "warning",
        step=since,
        layers=tuple(layer for layer, _, _ in saturated),
        evidence=inferred or "; ".join(f"{layer}: {pct(share)} of outputs within 1% of an asymptote, steps {step}-{view.upto}"
                                       for layer, share, step in saturated),
        explanation=(
            "Sigmoid and tanh flatten out for large inputs: a unit pinned near 0/1 (or -1/+1) has a slope "
            "close to 0, so almost no gradient passes through it and it stops learning. Weights too large for "
            "the layer width (or unscaled inputs) push the pre-activations there; Glorot init keeps them in "
            "the sloped middle, and ReLU does not saturate for positive inputs."
        ),
        fixes=fixes,
        confidence=T.CONFIDENCE_INFERRED if inferred else min(0.95, 0.5 + 0.45 * worst),
    )


def _saturated_from_histograms(view: RunView) -> tuple[list[tuple[str, float, int]], str]:
    """Without saturated_fraction: activation histograms piled at an asymptote, or sigmoid/tanh
    kernels whose init makes pre-activations several times wider than the sloped middle."""
    kind = hidden_activation(view)
    if kind == "unknown":
        kind = _bounded_by_loss(view)
    if kind not in SATURATING:
        return [], ""
    found, parts = [], []
    for layer, tag in view.hist_layered(ACTIVATIONS, hidden_only=True):
        snaps = view.hists(tag)
        share = median(np.asarray([saturated_share(s, kind) for s in snaps[-3:]]))
        # At the start, not now: a healthy layer can drift towards its asymptotes over a long run.
        slope = median(np.asarray([mean_slope(s, kind) for s in snaps[:3]]))
        if share >= T.SATURATED_FRACTION:
            found.append((layer, share, snaps[-3:][0].step))
            parts.append(f"{layer}: {pct(share)} of the {kind} outputs in its activation histogram lie within "
                         f"{pct(T.SATURATION_BAND)} of an asymptote")
        elif slope <= T.SATURATED_SLOPE:
            found.append((layer, share, snaps[0].step))
            parts.append(f"{layer}: from step {snaps[0].step} its units pass back on average {pct(slope)} of the "
                         f"gradient a {kind} can (its slope averaged over the activation histogram; a variance-scaled "
                         f"init starts above {pct(T.HEALTHY_START_SLOPE)})"
                         + (f", {pct(share)} of them within {pct(T.SATURATION_BAND)} of an asymptote"
                            if math.isfinite(share) else ""))
    if found:
        return found, "inferred from the activation histograms: " + "; ".join(parts)
    if view.hist_layered(ACTIVATIONS, hidden_only=True):
        return [], ""  # the activations were logged and are not saturated: the weights cannot overrule them
    gains = kernel_gains(view)
    for index, (layer, gain, source) in enumerate(gains):
        if layer in view.output_layers:
            continue
        rms = T.PIXEL_INPUT_RMS if index == 0 else T.HIDDEN_INPUT_RMS
        spread = gain * rms
        if spread >= T.SATURATE_PREACTIVATION_STD:
            found.append((layer, 1.0, view.first_step()))
            what = "its inputs (assumed pixels in [0, 1])" if index == 0 else f"{kind} inputs"
            return found, (
                f"inferred from {source}: {layer} starts with std x sqrt(fan in) = {gain:.2f}, so on {what} its "
                f"pre-activations spread ~{spread:.1f} wide, where a {kind} is flat (slope < 0.05 beyond ~3); "
                "Glorot init gives at most 1.41"
            )
    return [], ""


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
    configured = [layer.get("name") for layer in view.model().get("layers", [])[:-1]
                  if layer.get("kernel_std") == 0 and layer.get("kernel_init")]
    if not zero and not flat and not configured:
        return None
    start = view.first_step()
    if not zero and not flat:
        init = view.model()["layers"][0].get("kernel_init")
        return Verdict(
            severity="critical",
            step=start,
            layers=tuple(configured),
            evidence=f"from the model config: {', '.join(configured)} kernels are initialised by {init} (every "
                     "weight the same value)",
            explanation=_SYMMETRY_WHY,
            fixes=("init",),
            confidence=0.9,
        )
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
        explanation=_SYMMETRY_WHY,
        fixes=("init",),
        confidence=0.95,
    )


_SYMMETRY_WHY = (
    "When every weight of a layer starts at the same value, every unit of the layer computes the same "
    "output and receives the same gradient, so they stay copies of each other forever: the layer acts "
    "like a single unit. With zeros, a sigmoid layer outputs 0.5 everywhere and a ReLU layer outputs 0. "
    "Random init (Glorot for sigmoid/tanh, He for ReLU) breaks the symmetry."
)

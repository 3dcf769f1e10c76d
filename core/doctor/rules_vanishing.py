"""Rule about a gradient that fades on its way back to the input: vanishing gradients, measured
from per-layer gradient norms or inferred from weights that do not move or from the model config."""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import activation_kind, kernel_grad_ladder
from core.doctor.derived import hidden_activation, weight_movements
from core.doctor.evidence import fmt, geometric_step, median, orders
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.tags import LOSS


def check_vanishing(view: RunView) -> Verdict | None:
    ladder = kernel_grad_ladder(view)
    if len(ladder) < 2:
        return _frozen_early_layers(view) or _vanishing_from_config(view)
    first_layer, first_norm = ladder[0]
    top_layer, top_norm = max(ladder, key=lambda item: item[1])
    hidden = [n for l, n in ladder if l not in view.output_layers]
    if hidden and all(n == 0 for n in hidden):
        return None  # exactly zero is dead units, not a vanishing signal
    gap = orders(first_norm, top_norm)
    if first_norm == 0 or gap < T.VANISH_ORDERS or first_norm > T.VANISH_FIRST_LAYER:
        return None
    top_index = [l for l, _ in ladder].index(top_layer)
    per_layer = geometric_step(first_norm, top_norm, top_index) if top_index else 1.0
    steps, _ = view.tail(LOSS, T.WINDOW)
    kind = activation_kind(view)
    saturating = kind in ("saturating", "unknown")
    evidence = (
        f"{first_layer} kernel gradient norm {fmt(first_norm)}, {gap:.1f} orders of magnitude below "
        f"{top_layer} ({fmt(top_norm)}); it shrinks ~{per_layer:.1f}x per layer toward the input"
    )
    ladder_text = ", ".join(f"{l} {fmt(n)}" for l, n in ladder)
    return Verdict(
        severity="critical",
        step=int(steps[0]) if steps.size else view.upto,
        layers=tuple(l for l, n in ladder if orders(n, top_norm) >= T.VANISH_ORDERS / 2),
        evidence=f"{evidence} (ladder: {ladder_text})",
        explanation=_VANISHING_WHY,
        confidence=min(0.95, 0.5 + 0.08 * gap),
        **_vanishing_repairs(saturating),
    )


_VANISHING_WHY = (
    "Backpropagation multiplies the gradient by each layer's weights and activation slope on its way "
    "to the input. A sigmoid's slope is at most 1/4, so with small weights every layer shrinks the "
    "gradient several times over: the first layers get almost nothing and never learn. ReLU (slope 1) "
    "with He init, or fewer layers, keeps the gradient alive."
)


def _vanishing_repairs(saturating: bool) -> dict[str, tuple[str, ...]]:
    """The fixes to offer, and the repair to verify. ReLU alone keeps the old small init, which
    shrinks a deep ReLU net's signal instead: with He init."""
    if saturating:
        return {"fixes": ("activation", "init", "depth"), "repair": ("activation", "init")}
    return {"fixes": ("init", "depth"), "repair": ()}


# Backpropagation through a hidden layer multiplies the gradient's size by the activation's
# slope (rms over units: sigmoid at most 1/4, tanh at most 1, ReLU sqrt(1/2) with half the units
# active) times the next kernel's std x sqrt(its units).
_SLOPE_BOUND = {"sigmoid": 0.25, "tanh": 1.0, "relu": math.sqrt(0.5)}


def _vanishing_from_config(view: RunView) -> Verdict | None:
    """Logs with the model config but neither gradients nor weight histograms: the init and the
    activations predict the gradient's shrink toward the input (an upper bound on what passes
    back, from the slopes' maxima), and the loss has stayed at chance, as it does when the
    first layers never learn."""
    layers = view.model().get("layers", [])
    hidden = layers[:-1]
    if len(hidden) < 2 or any(layer.get("activation") not in _SLOPE_BOUND for layer in hidden):
        return None
    factors = []
    for layer, following in zip(hidden, layers[1:]):
        std, units = following.get("kernel_std"), following.get("units")
        if not std or not units:
            return None
        factors.append(_SLOPE_BOUND[layer["activation"]] * std * math.sqrt(units))
    shrink = float(np.prod(factors))
    _, loss = view.tail(LOSS, T.EPOCH_MIN_RECORDS if view.per_epoch else T.WINDOW)
    level = median(loss)  # NaN without a finite loss: then not "stuck at chance"
    if shrink <= 0 or -math.log10(shrink) < T.VANISH_ORDERS or not level >= (1 - T.LR_LOW_PROGRESS) * view.chance_loss:
        return None
    kind = hidden[0]["activation"]
    typical = float(np.exp(np.mean(np.log(factors))))
    return Verdict(
        severity="critical",
        step=view.first_step(),
        layers=tuple(layer.get("name", "") for layer in hidden[: max(1, len(hidden) // 2)]),
        evidence=(
            f"inferred from the model config (no gradients or weights logged): {len(hidden)} {kind} layers whose "
            f"next kernels start with std {fmt(hidden[1].get('kernel_std'))}-{fmt(layers[-1].get('kernel_std'))}; "
            f"backpropagation multiplies the gradient by at most slope x std x sqrt(units) ~{typical:.2g} per layer, "
            f"so the first layer gets ~{fmt(shrink)} of the output layer's ({-math.log10(shrink):.1f} orders of "
            f"magnitude); the loss stays at {fmt(level)} (chance {fmt(view.chance_loss)})"
        ),
        explanation=_VANISHING_WHY + " (Log per-layer gradient norms to measure it directly.)",
        confidence=T.CONFIDENCE_INFERRED,
        **_vanishing_repairs(kind in ("sigmoid", "tanh")),
    )


def _frozen_early_layers(view: RunView) -> Verdict | None:
    """Logs with weight histograms but no gradients: the first kernels barely moved between
    snapshots while later ones did, by orders of magnitude (the gradient fades toward the input)."""
    moved = weight_movements(view)
    if len(moved) < 3:
        return None
    kind = hidden_activation(view)
    first_layer, first = moved[0][0], moved[0][1]
    top_layer, top = max(((l, m) for l, m, _ in moved), key=lambda item: item[1])
    if top < T.MOVEMENT_ANY or top_layer == first_layer:
        return None
    if first == 0 and kind == "relu":
        return None  # not a single weight changed: no gradient at all, dead units (check_dead_relu)
    gap = orders(first, top) if first > 0 else math.inf
    if gap < T.VANISH_MOVEMENT_ORDERS:
        return None
    ladder = ", ".join(f"{l} {fmt(m)}" for l, m, _ in moved)
    saturating = kind in ("sigmoid", "tanh", "unknown")
    return Verdict(
        severity="critical",
        step=view.first_step(),
        layers=tuple(l for l, m, _ in moved if m <= top * 10 ** -(T.VANISH_MOVEMENT_ORDERS / 2)),
        evidence=(
            f"inferred from the weight histograms (no gradients logged): {first_layer} weights moved "
            f"{fmt(first)} of their spread over {moved[0][2]} steps, "
            f"{'more than ' + format(T.VANISH_MOVEMENT_ORDERS, '.0f') if gap == math.inf else format(gap, '.1f')} orders "
            f"of magnitude less than {top_layer} ({fmt(top)}); movement per layer: {ladder}"
            + (f"; {kind} activations" if kind != "unknown" else "")
        ),
        explanation=(
            "A weight moves by learning rate x its gradient. The layers near the input have not moved while the "
            "layers near the output have: the gradient shrinks on its way back through the layers (a sigmoid's "
            "slope is at most 1/4), so the first layers never learn. ReLU with He init, or fewer layers, keeps "
            "the gradient alive. (Log per-layer gradient norms to measure it directly.)"
        ),
        confidence=T.CONFIDENCE_INFERRED,
        **_vanishing_repairs(saturating),
    )

"""Rules about the size of the signal flowing through the net: non-finite values,
exploding activations or gradients, vanishing gradients."""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import activation_kind, inputs_raw, kernel_grad_ladder
from core.doctor.derived import hidden_activation, kernel_gains, weight_movements
from core.doctor.evidence import finite, first_true_step, fmt, geometric_step, hist_abs_max, hist_nonfinite, median, orders, pct
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.history import layer_order
from core.schema.tags import (
    ACCURACY,
    ACTIVATION_STD,
    ACTIVATIONS,
    GRAD_NORM,
    GRADIENTS,
    KERNEL,
    LOSS,
    NONFINITE_COUNT,
    WEIGHT_NORM,
    WEIGHTS,
)
from core.tensorboard.layers import FIRST_LAYER

# ------------------------------------------------------------------------- non-finite


def _first_bad(view: RunView, tag: str, counts: bool = False) -> int | None:
    steps, values = view.tail(tag)
    bad = ~np.isfinite(values)
    if counts:
        bad |= values > 0
    step = first_true_step(steps, bad)
    if step is None:
        return None
    # Still bad where the tail starts: walk back in chunks to where it began (only once NaN).
    series = view.history.train[tag]
    index = bisect_left(series.steps, step)
    while index > 0:
        low = max(0, index - 256)
        chunk = np.asarray(series.values[low:index], dtype=np.float64)
        bad = ~np.isfinite(chunk) | ((chunk > 0) if counts else False)
        if bad.all():
            index = low
            continue
        index = low + int(np.flatnonzero(~bad)[-1]) + 1
        break
    return series.steps[index]


def _clean(view: RunView) -> bool:
    """tblab's nonfinite/count covers loss, logits, gradients and weights: when it and the loss
    are clean over the whole tail there is nothing to locate (and the check stays cheap)."""
    if not (view.has(NONFINITE_COUNT) and view.has(LOSS)) or view.history.histograms:
        return False
    _, counts = view.tail(NONFINITE_COUNT)
    _, loss = view.tail(LOSS)
    return bool(np.all(counts == 0) and np.all(np.isfinite(loss)))


def _last_finite_before(view: RunView, tag: str, step: int) -> tuple[int, float] | None:
    """The last finite value of tag before step (looked up in the full series: it may predate the tail)."""
    series = view.history.train.get(tag)
    if series is None:
        return None
    index = bisect_left(series.steps, step)
    low = max(0, index - 256)
    chunk = np.asarray(series.values[low:index], dtype=np.float64)
    good = np.flatnonzero(np.isfinite(chunk))
    if not good.size:
        return None
    i = low + int(good[-1])
    return series.steps[i], series.values[i]


def check_nonfinite(view: RunView) -> Verdict | None:
    if _clean(view):
        return None
    sources = []
    for tag, counts in ((LOSS, False), (NONFINITE_COUNT, True)):
        if view.has(tag):
            step = _first_bad(view, tag, counts)
            if step is not None:
                sources.append((step, tag))
    # Per-layer scalars show where it began; histograms cover logs without scalars.
    layer_steps: dict[str, int] = {}
    for prefix, part in ((ACTIVATION_STD, ""), (GRAD_NORM, KERNEL), (WEIGHT_NORM, KERNEL)):
        for layer, tag in view.layered(prefix, part):
            step = _first_bad(view, tag)
            if step is not None:
                layer_steps[layer] = min(step, layer_steps.get(layer, step))
    for prefix in (WEIGHTS, GRADIENTS, ACTIVATIONS):
        for layer, tag in view.hist_layered(prefix):
            layer = layer.split("/")[0]
            bad = _first_bad_snapshots(view.hists(tag))
            if bad:
                layer_steps[layer] = min(bad[0], layer_steps.get(layer, bad[0]))
                sources.append((bad[0], f"{prefix} histogram of {layer}"))
    # Histograms the reader had to drop because they held NaN/Inf (it notes where).
    for tag, step in _noted_nonfinite(view).items():
        if step <= view.upto:
            layer = tag.split("/")[1] if tag.count("/") >= 1 else tag
            layer_steps[layer] = min(step, layer_steps.get(layer, step))
            sources.append((step, f"histogram {tag}"))
    if not sources and not layer_steps:
        return None
    first = min([s for s, _ in sources] + list(layer_steps.values()))
    first_layers = tuple(sorted((l for l, s in layer_steps.items() if s == first), key=layer_order))
    parts = []
    loss_step = next((s for s, t in sources if t == LOSS), None)
    if loss_step is not None:
        before = _last_finite_before(view, LOSS, loss_step)
        tail = f" (last finite loss {fmt(before[1])} at step {before[0]})" if before else ""
        parts.append(f"loss is NaN/Inf from step {loss_step}{tail}")
    if first_layers:
        parts.append(f"first non-finite values at step {first} in {', '.join(first_layers)}")
    elif loss_step is None:
        parts.append(f"non-finite values from step {first} ({sources[0][1]})")
    peak = _largest_before(view, first)
    if peak:
        parts.append(f"just before, {peak}")
    fingerprint = _nan_fingerprint(view)
    if fingerprint:
        parts.append(fingerprint)
    early = first <= view.first_step() + T.HEAD_RECORDS
    fixes = _blowup_fixes(view, early)
    return Verdict(
        severity="critical",
        step=first,
        layers=first_layers,
        evidence="; ".join(parts),
        explanation=(
            "A value grew past float32's largest number (3.4e38) and became Inf; Inf - Inf or 0 * Inf then "
            "gives NaN, and every value computed from a NaN is NaN: the loss, the gradients and, one update "
            "later, all the weights. The run cannot recover. Look for what grew before the first NaN."
        ),
        fixes=fixes,
        confidence=T.CONFIDENCE_FACT,
    )


def _first_bad_snapshots(snaps: list) -> list[int]:
    """Steps of the trailing run of non-finite snapshots (NaN weights stay NaN): the last one is
    looked at first, so a clean tag costs one test per check, not one per snapshot."""
    if not snaps or not hist_nonfinite(snaps[-1]):
        return []
    index = len(snaps) - 1
    while index > 0 and hist_nonfinite(snaps[index - 1]):
        index -= 1
    return [snap.step for snap in snaps[index:]]


def _noted_nonfinite(view: RunView) -> dict[str, int]:
    try:
        noted = view.history.facts.nonfinite_histograms
    except ValueError:
        return {}
    return {tag: int(step) for tag, step in noted.items()} if isinstance(noted, dict) else {}


def _largest_before(view: RunView, step: int) -> str:
    """The largest finite activation std or gradient norm in the last finite step before `step`."""
    best = None
    for prefix, part, what in ((ACTIVATION_STD, "", "activation std"), (GRAD_NORM, KERNEL, "gradient norm")):
        for layer, tag in view.layered(prefix, part):
            found = _last_finite_before(view, tag, step + 1)
            if found and (best is None or found[1] > best[0]):
                best = (found[1], f"{layer} {what} {fmt(found[1])} at step {found[0]}")
    return best[1] if best and best[0] > T.NONFINITE_PRECURSOR else ""


def _nan_fingerprint(view: RunView) -> str:
    """argmax of NaN logits picks label 0, so a NaN net's test accuracy is exactly the test
    share of '0's (computed from the run's own class balance)."""
    _, values = view.val_tail(ACCURACY, 1)
    balance = view.balance
    if balance is None or not values.size or not math.isfinite(values[-1]):
        return ""
    share = balance.test_share(0)
    if abs(values[-1] - share) > T.FINGERPRINT_EXAMPLES * balance.test_resolution:
        return ""
    return f"test accuracy {values[-1]:.4f}: the NaN fingerprint (argmax of NaN picks label 0, {pct(share)} of the test set)"


def _blowup_fixes(view: RunView, from_start: bool) -> tuple[str, ...]:
    """What to change when values blow up: the inputs if raw, the init if from the start, else the step."""
    if inputs_raw(view):
        return ("normalize", "lr_down")
    if from_start:
        return ("init", "depth", "lr_down")
    return ("lr_down", "init")


# -------------------------------------------------------------------------- exploding


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
        fixes=_blowup_fixes(view, from_start),
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


# -------------------------------------------------------------------------- vanishing


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

"""Rule about values that overflowed: a NaN or Inf in the loss, the gradients or the weights,
located at the first step and layer it appeared in, with what grew just before it."""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import inputs_raw
from core.doctor.evidence import first_true_step, fmt, hist_nonfinite, pct
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
    sources, layer_steps = _where_bad(view)
    if not sources and not layer_steps:
        return None
    first = min([s for s, _ in sources] + list(layer_steps.values()))
    first_layers = tuple(sorted((l for l, s in layer_steps.items() if s == first), key=layer_order))
    parts = []
    loss_step = next((s for s, t in sources if t == LOSS), None)
    if loss_step is not None:
        before = _last_finite_before(view, LOSS, loss_step)
        tail = f" (last finite loss {fmt(before[1])} at step {before[0]})" if before else ""
        if before is None and loss_step <= view.first_step():
            tail = (" (its first record: what grew before the overflow is not in the log; a loss or gradient "
                    "norm logged every step, not averaged over an epoch, would show it)")
        parts.append(f"loss is NaN/Inf from {view.unit} {loss_step}{tail}")
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
    fixes = blowup_fixes(view, early)
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


def _where_bad(view: RunView) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """(first bad step, where) of each whole-run source, and the first bad step of each layer."""
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
    return sources, layer_steps


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


def blowup_fixes(view: RunView, from_start: bool) -> tuple[str, ...]:
    """What to change when values blow up: the inputs if raw, the init if from the start, else the step."""
    if inputs_raw(view):
        return ("normalize", "lr_down")
    if from_start:
        return ("init", "depth", "lr_down")
    return ("lr_down", "init")

"""Signals derived from what a foreign log does hold, for the rules to fall back on when
tblab's own instruments (dead_fraction, update_ratio, input/*) are missing.

  weight movement   how far each kernel's histogram moved between its first and last
                    snapshot (or from the range its configured uniform init starts at):
                    a frozen early layer under moving later ones is a vanishing gradient;
                    nothing moving is a learning rate too low
  init gain         a kernel's std x sqrt(fan in): how much a layer scales the size of its
                    input at the start (1 for He with ReLU); fan in = kernel count / bias count
  activation kind   from the model config, else from an activation histogram's range
  saturation        share of an activation histogram piled at a sigmoid/tanh asymptote,
                    and the slope its units average (the share of the gradient they pass)

Everything here is an inference: rules that use it say so in their evidence and carry a
lower confidence than a measured fact.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from core.doctor import thresholds as T
from core.doctor.evidence import hist_centers, hist_range
from core.doctor.view import RunView
from core.schema.history import HistogramSnapshot
from core.schema.tags import ACTIVATIONS, BIAS, KERNEL, WEIGHTS, layer_tag
from core.schema.units import ASYMPTOTES, SATURATING  # noqa: F401 - SATURATING is read from here by rules_units and rules_input



def hist_std(snap: HistogramSnapshot) -> float:
    """Std of the tensor a histogram summarises, from bucket centres."""
    counts = np.asarray(snap.counts, dtype=np.float64)
    centers = hist_centers(snap)
    total = counts.sum()
    if counts.size != centers.size or total <= 0:
        return math.nan
    mean = np.sum(counts * centers) / total
    return float(math.sqrt(max(0.0, np.sum(counts * (centers - mean) ** 2) / total)))


def quantiles(snap: HistogramSnapshot, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles of the tensor a histogram summarises, interpolated within buckets."""
    counts = np.asarray(snap.counts, dtype=np.float64)
    edges = np.asarray(snap.edges, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or edges.size != counts.size + 1:
        return np.full(len(qs), math.nan)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)]) / total
    return np.interp(qs, cumulative, edges)


def movement(first: HistogramSnapshot, last: HistogramSnapshot) -> float:
    """How far a weight distribution moved, relative to its first width: the largest shift of
    its extremes or quartiles over (max - min). 0 when not one weight changed."""
    low, high = hist_range(first)
    width = high - low
    if not math.isfinite(width) or width <= 0:
        return math.nan
    qs = (0.0, 0.25, 0.75, 1.0)
    shift = np.abs(quantiles(last, qs) - quantiles(first, qs))
    return float(np.max(shift) / width)


def kernel_snapshots(view: RunView) -> list[tuple[str, list[HistogramSnapshot]]]:
    """(layer, snapshots) of every kernel histogram, input side first."""
    return [(layer, view.hists(tag)) for layer, tag in view.hist_layered(WEIGHTS, KERNEL) if view.hists(tag)]


def weight_movements(view: RunView):
    """weight_movements, computed once per view (see _weight_movements)."""
    if "weight_movements" not in view.derived:
        view.derived["weight_movements"] = _weight_movements(view)
    return view.derived["weight_movements"]


def _weight_movements(view: RunView) -> list[tuple[str, float, int]]:
    """(layer, movement, steps spanned) per kernel, input side first.

    With two or more snapshots: first to last. With one, and a model config saying the kernel
    started uniform in [-a, a] (Keras' default Glorot uniform): how far its range left +-a.
    """
    found = []
    model_layers = {layer.get("name"): layer for layer in view.model().get("layers", [])}
    for layer, snaps in kernel_snapshots(view):
        if len(snaps) >= 2:
            moved = movement(snaps[0], snaps[-1])
            if math.isfinite(moved):
                found.append((layer, moved, snaps[-1].step - snaps[0].step))
            continue
        config = model_layers.get(layer.split("/")[0], {})
        if str(config.get("kernel_init", "")).lower().endswith("uniform") and config.get("kernel_std"):
            found.append((layer, _moved_from_uniform(snaps[0], config), snaps[0].step))
    return found


def kernel_gains(view: RunView):
    """kernel_gains, computed once per view (see _kernel_gains)."""
    if "kernel_gains" not in view.derived:
        view.derived["kernel_gains"] = _kernel_gains(view)
    return view.derived["kernel_gains"]


def _moved_from_uniform(snap: HistogramSnapshot, config: dict) -> float:
    """How far a kernel's range left the [mean - a, mean + a] its uniform init drew from, over 2a.

    n uniform draws fall short of each end by ~2a / (n + 1) (and about as much again by chance):
    a shortfall within 3 of those is the init itself, not movement."""
    half = math.sqrt(3.0) * config["kernel_std"]
    mean = config.get("kernel_mean") or 0.0
    low, high = hist_range(snap)
    size = float(np.sum(snap.counts))
    slack = 3 * 2 * half / (size + 1)
    ends = []
    for measured, bound in ((low, mean - half), (high, mean + half)):
        outside = abs(measured - mean) - half
        ends.append(outside if outside > 0 else max(0.0, -outside - slack))
    return max(ends) / (2 * half)


def _kernel_gains(view: RunView) -> list[tuple[str, float, str]]:
    """(layer, std x sqrt(fan in), where from) per kernel at the start, input side first: from the
    model config, or else the first weight histogram (fan in = kernel count / bias count)."""
    gains = []
    model_layers = view.model().get("layers", [])
    # The config says what the init was; Keras' first histogram comes after a whole epoch of updates.
    for layer in model_layers:
        if layer.get("kernel_std") is not None and layer.get("fan_in"):
            gains.append((layer["name"], layer["kernel_std"] * math.sqrt(layer["fan_in"]),
                          f"the model config ({layer.get('kernel_init')} init)"))
    if gains:
        return gains
    by_name = {layer.get("name"): layer for layer in model_layers}
    for layer, snaps in kernel_snapshots(view):
        bias = view.hists(layer_tag(WEIGHTS, layer, BIAS))
        kernel_size = float(np.sum(snaps[0].counts))
        fan_in = kernel_size / float(np.sum(bias[0].counts)) if bias and np.sum(bias[0].counts) > 0 else None
        config = by_name.get(layer)
        if fan_in is None and config and config.get("fan_in"):
            fan_in = config["fan_in"]
        if fan_in is None and layer == "first_layer" and kernel_size % 784 == 0:
            fan_in = 784  # a lone first-layer histogram of 28x28 images
        if fan_in:
            gains.append((layer, hist_std(snaps[0]) * math.sqrt(fan_in), f"the {layer} weight histogram at step {snaps[0].step}"))
    return gains


def hidden_activation(view: RunView):
    """hidden_activation, computed once per view (see _hidden_activation)."""
    if "hidden_activation" not in view.derived:
        view.derived["hidden_activation"] = _hidden_activation(view)
    return view.derived["hidden_activation"]


def _hidden_activation(view: RunView) -> str:
    """'relu', 'sigmoid', 'tanh' or 'unknown': the model config's hidden activation, else the
    shape of the activation histograms (sigmoid lives in (0, 1), tanh in (-1, 1), ReLU >= 0
    with a pile at 0), else tblab's own config."""
    layers = view.model().get("layers", [])[:-1]
    kinds = Counter(str(layer.get("activation")) for layer in layers)
    if kinds:
        kind = kinds.most_common(1)[0][0]
        return kind if kind in ("relu", *SATURATING) else ("relu" if "relu" in kind else "unknown")
    for _, tag in view.hist_layered(ACTIVATIONS, hidden_only=True):
        snaps = view.hists(tag)
        if snaps:
            return activation_from_histogram(snaps[-1])
    configured = view.config_value("activation")
    return configured if configured in ("relu", *SATURATING) else "unknown"


def activation_from_histogram(snap: HistogramSnapshot) -> str:
    low, high = hist_range(snap)
    if low >= -1.0 - 1e-6 and high <= 1.0 + 1e-6 and low < -1e-6:
        return "tanh"
    # Sigmoid outputs never reach 0 exactly, and pile up at 1 as well when they saturate.
    if low >= -1e-6 and high <= 1.0 + 1e-6 and (
        _share_at_zero(snap) < T.RELU_ZERO_PILE or saturated_share(snap, "sigmoid", upper_only=True) >= T.RELU_ZERO_PILE / 4
    ):
        return "sigmoid"
    if low >= -1e-6:
        return "relu"
    return "unknown"


def _share_at_zero(snap: HistogramSnapshot) -> float:
    counts = np.asarray(snap.counts, dtype=np.float64)
    edges = np.asarray(snap.edges, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0
    at_zero = counts[(edges[:-1] <= 1e-6) & (edges[1:] >= -1e-6)]
    return float(at_zero.sum() / total) if at_zero.size else 0.0


def saturated_share(snap: HistogramSnapshot, kind: str, upper_only: bool = False) -> float:
    """Share of a sigmoid/tanh activation histogram within SATURATION_BAND of an asymptote
    (of the upper one only, with upper_only)."""
    masses = _near_asymptote(snap, kind)
    if masses is None:
        return math.nan
    low, high, total = masses
    return float((high if upper_only else low + high) / total)


def mean_slope(snap: HistogramSnapshot, kind: str) -> float:
    """The activation's slope averaged over a sigmoid/tanh activation histogram, relative to its
    peak (sigmoid h(1 - h) / (1/4), tanh 1 - h^2): the share of the gradient the average unit
    passes back. Values at an asymptote (see _near_asymptote) pass none."""
    if kind not in SATURATING:
        return math.nan
    counts, centers, pinned = _buckets(snap, kind)
    if counts.sum() <= 0:
        return math.nan
    h = np.clip(centers, *ASYMPTOTES[kind])
    slope = 4 * h * (1 - h) if kind == "sigmoid" else 1 - h * h
    return float((slope * counts)[~pinned].sum() / counts.sum())


def _near_asymptote(snap: HistogramSnapshot, kind: str) -> tuple[float, float, float] | None:
    """(mass near the lower asymptote, near the upper one, total) of an activation histogram."""
    if kind not in SATURATING:
        return None
    counts, centers, pinned = _buckets(snap, kind)
    total = counts.sum()
    if total <= 0:
        return None
    lows, highs = ASYMPTOTES[kind]
    band = T.SATURATION_BAND * (highs - lows)
    low = (centers <= lows + band) | (pinned & (centers < (lows + highs) / 2))
    high = (centers >= highs - band) | (pinned & (centers > (lows + highs) / 2))
    return float(counts[low].sum()), float(counts[high].sum()), float(total)


def _buckets(snap: HistogramSnapshot, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts, bucket centers, pinned) of an activation histogram. A bucket is pinned when it
    ends exactly at an asymptote: it holds values equal to it in float32, saturated beyond any
    slope. TF1's histograms (exponential buckets, empty ones dropped) can be ~9% wide there,
    too coarse for a 2% band to resolve by bucket centers, so such a bucket counts whole."""
    counts = np.asarray(snap.counts, dtype=np.float64)
    edges = np.asarray(snap.edges, dtype=np.float64)
    lows, highs = ASYMPTOTES[kind]
    pinned = np.zeros(counts.shape, dtype=bool)
    if counts.size:
        pinned[0] = abs(edges[0] - lows) <= 1e-6
        pinned[-1] |= abs(edges[-1] - highs) <= 1e-6
    return counts, (edges[:-1] + edges[1:]) / 2, pinned

"""Small numeric helpers the rules share: robust window statistics and number formatting."""

from __future__ import annotations

import math

import numpy as np

from core.schema.history import HistogramSnapshot


def fmt(x: float) -> str:
    """A number as a learner reads it: 3 significant digits, scientific when tiny or huge."""
    if x is None or not math.isfinite(x):
        return "NaN" if x is None or math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e5:
        return f"{x:.1e}"
    return f"{x:.3g}"


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def median(values: np.ndarray) -> float:
    """Median of the finite values (NaN if none); np.median's overhead dominates on small windows."""
    good = np.sort(finite(values))
    n = good.size
    if n == 0:
        return math.nan
    mid = n // 2
    return float(good[mid]) if n % 2 else float(good[mid - 1] + good[mid]) / 2


def orders(small: float, large: float) -> float:
    """How many powers of ten `small` is below `large` (positive when smaller)."""
    if small <= 0 or large <= 0:
        return math.inf if small <= 0 < large else 0.0
    return math.log10(large / small)


def geometric_step(first: float, last: float, gaps: int) -> float:
    """The per-layer factor that takes `first` to `last` in `gaps` layers."""
    if gaps <= 0 or first <= 0 or last <= 0:
        return 1.0
    return (last / first) ** (1.0 / gaps)


def first_true_step(steps: np.ndarray, mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(steps[idx[0]]) if idx.size else None


# --- histograms (foreign logs, or tblab's every-N-steps snapshots) ----------------


def hist_nonfinite(snap: HistogramSnapshot) -> bool:
    return not (np.all(np.isfinite(snap.edges)) and np.all(np.isfinite(snap.counts)))


def hist_centers(snap: HistogramSnapshot) -> np.ndarray:
    edges = np.asarray(snap.edges, dtype=np.float64)
    return (edges[:-1] + edges[1:]) / 2 if edges.size > 1 else edges


def hist_abs_max(snap: HistogramSnapshot) -> float:
    edges = np.asarray(snap.edges, dtype=np.float64)
    return float(np.max(np.abs(edges))) if edges.size else math.nan


def hist_l2(snap: HistogramSnapshot) -> float:
    """L2 norm of the tensor a histogram summarises, from bucket centres (approximate)."""
    counts = np.asarray(snap.counts, dtype=np.float64)
    centers = hist_centers(snap)
    if counts.size != centers.size or counts.sum() <= 0:
        return math.nan
    return float(math.sqrt(np.sum(counts * centers**2)))


def hist_range(snap: HistogramSnapshot) -> tuple[float, float]:
    edges = np.asarray(snap.edges, dtype=np.float64)
    return (float(edges[0]), float(edges[-1])) if edges.size else (math.nan, math.nan)


def kendall_tau(values: list[float]) -> float:
    """Kendall's rank correlation of values with their order: -1 when every later value is
    lower than every earlier one, 0 with no trend."""
    pairs = [(b > a) - (b < a) for i, a in enumerate(values) for b in values[i + 1:]]
    return float(sum(pairs) / len(pairs)) if pairs else 0.0

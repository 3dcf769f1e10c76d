"""Histogram buckets of a watched step's tensors, in numpy, as tblab's runs write them:
30 rows of (left edge, right edge, count) over the finite values, and the number of
non-finite values left out (a NaN never hides a histogram in TensorBoard).

tblab's own runs compute the same buckets in-graph (core.train.histograms); core.watch
may not import core.train, and a watched script's tensors are already in hand, every 50
steps, so numpy costs a few milliseconds there. The bucket count is core/schema's.
"""

from __future__ import annotations

import numpy as np

from core.schema.tags import HISTOGRAM_BUCKETS


def finite_histogram(values, count: int = HISTOGRAM_BUCKETS) -> tuple[np.ndarray, int]:
    flat = np.asarray(values, np.float64).ravel()
    finite = flat[np.isfinite(flat)]
    dropped = flat.size - finite.size
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if low == high:  # one value repeated (or none): a unit-wide range around it
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, count + 1)
    counts, _ = np.histogram(finite, bins=edges)
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1), dropped


def histogram_buckets_numpy(tensors) -> tuple[np.ndarray, float]:
    """[len(tensors), 30, 3] buckets and the total of non-finite values left out."""
    pairs = [finite_histogram(t) for t in tensors]
    return np.stack([buckets for buckets, _ in pairs]), float(sum(dropped for _, dropped in pairs))

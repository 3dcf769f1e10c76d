"""What a histogram's values say it is, where its name does not: ReLU outputs are >= 0 with
a pile at exactly 0, sigmoid outputs live inside (0, 1); and the statistics of an input batch
from its histogram. Pure functions of HistogramSnapshot (no TensorFlow)."""

from __future__ import annotations

import math

import numpy as np

from core.schema.history import HistogramSnapshot
from core.tensorboard.vocabulary import INPUT_WORDS, NEUTRAL_WORDS, words

RELU_ZERO_PILE = 0.2  # share of a ReLU layer's outputs at exactly 0 (a healthy net: 30-70%)
ALL_AT_ZERO = 0.95  # a histogram this much at 0 says nothing of what it holds
SIGMOID_NEAR_ZERO = 0.05  # sigmoid outputs never reach 0: at most this share in the bucket at 0
# Words of histograms that hold a model's outputs or targets, not a hidden layer's activations.
_NOT_HIDDEN = {"softmax", "probs", "probabilities", "probability", "predictions", "prediction", "pred", "preds",
               "y", "labels", "label", "targets", "target", "output", "outputs", "logits", "logit"}


def share_at_zero(snap: HistogramSnapshot) -> float:
    counts, edges = np.asarray(snap.counts, np.float64), np.asarray(snap.edges, np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0
    return float(counts[(edges[:-1] <= 1e-6) & (edges[1:] >= -1e-6)].sum() / total)


def value_range(snap: HistogramSnapshot) -> tuple[float, float]:
    occupied = np.flatnonzero(np.asarray(snap.counts) > 0)
    if occupied.size == 0:
        return math.nan, math.nan
    return float(snap.edges[occupied[0]]), float(snap.edges[occupied[-1] + 1])


def activation_shape(snaps: list[HistogramSnapshot]) -> str | None:
    """'relu' or 'sigmoid' when the last snapshots all look like that layer's outputs, else None
    (weights and gradients spread on both sides of 0; tanh outputs do too, so they are not told)."""
    kinds = set()
    for snap in snaps[-3:]:
        low, high = value_range(snap)
        if not (low >= -1e-6):
            return None
        zero = share_at_zero(snap)
        if zero >= ALL_AT_ZERO:
            return None  # a zero-initialised bias looks so too: nothing to tell by
        if zero >= RELU_ZERO_PILE:
            kinds.add("relu")
        elif high <= 1 + 1e-6 and zero <= SIGMOID_NEAR_ZERO:
            kinds.add("sigmoid")
        else:
            return None
    return kinds.pop() if len(kinds) == 1 else None


def names_inputs(tag: str) -> bool:
    """The tag's words name the input batch (`input`, `x`, `images/train`), nothing else."""
    found = [word for word in words(tag) if word not in NEUTRAL_WORDS and not word.isdigit()]
    return bool(found) and set(found) <= INPUT_WORDS and not set(found) <= {"batch", "raw", "data"}


def names_model_output(tag: str) -> bool:
    return any(word in _NOT_HIDDEN for word in words(tag))


def histogram_stats(snap: HistogramSnapshot) -> tuple[float, float, float, float]:
    """(min, max, mean, std) of a histogram's values, from its occupied buckets' edges and centres."""
    low, high = value_range(snap)
    if math.isnan(low):
        return (math.nan,) * 4
    centres = (snap.edges[:-1] + snap.edges[1:]) / 2
    weights = snap.counts / snap.counts.sum()
    mean = float(np.sum(centres * weights))
    std = float(np.sqrt(max(0.0, np.sum(weights * (centres - mean) ** 2))))
    return low, high, mean, std

"""Hidden units: the activation families, which units count as dead or saturated, and the
initial weight scales that suit each family.

Both producers measure with these, so a net gives the same dead and saturated fractions
as a scenario (core/train) and as a watched script (core/watch): the measures themselves
are TensorFlow ops, written once in core/schema/unit_measures.py. This module loads no
TensorFlow, so the readers, the doctor and the lab can import it.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from core.schema.tags import DEAD_FRACTION, SATURATED_FRACTION, layer_tag

Activation = Literal["relu", "sigmoid", "tanh", "leaky_relu", "linear"]
ACTIVATION_KINDS: tuple[str, ...] = get_args(Activation)

# Dead units are counted for these: a unit whose pre-activation is <= 0 for the whole
# batch passes no gradient (leaky_relu's 1% slope is too small to revive it in practice).
RELU_LIKE: tuple[str, ...] = ("relu", "leaky_relu")
ASYMPTOTES: dict[str, tuple[float, float]] = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}  # the outputs' (low, high) limits
SATURATING: tuple[str, ...] = tuple(ASYMPTOTES)
RECORDED: tuple[str, ...] = RELU_LIKE + SATURATING  # the families whose units are measured

# Within 1% of an asymptote counts as saturated: the local slope is then < 1/25 of its peak.
SATURATION_MARGIN = 0.01


def unit_fraction_tag(kind: str, layer: str) -> str | None:
    """The per-layer unit measure of a family: dead_fraction/<layer> (ReLU-like),
    saturated_fraction/<layer> (sigmoid, tanh), None for the others (linear)."""
    if kind in RELU_LIKE:
        return layer_tag(DEAD_FRACTION, layer)
    if kind in SATURATING:
        return layer_tag(SATURATED_FRACTION, layer)
    return None


# --- initial weights ------------------------------------------------------------------
def initializer_for(activation: str) -> Literal["he", "glorot"]:
    """He for ReLU-like and linear units, Glorot for saturating ones (the init fix)."""
    return "glorot" if activation in SATURATING else "he"


def he_std(fan_in: int) -> float:
    """He normal: std sqrt(2 / fan_in) keeps a ReLU layer's signal at its size."""
    return math.sqrt(2.0 / fan_in)


def glorot_limit(fan_in: int, fan_out: int) -> float:
    """Glorot uniform: U(-limit, limit), limit sqrt(6 / (fan_in + fan_out))."""
    return math.sqrt(6.0 / (fan_in + fan_out))

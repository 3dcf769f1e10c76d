"""The dead and saturated unit measures, as TensorFlow ops: the one definition that both
producers compute in their compiled calls (core/train for scenarios, core/watch for
watched scripts). Which families they apply to is core/schema/units.py's.
"""

from __future__ import annotations

import tensorflow as tf

from core.schema.units import ASYMPTOTES, RELU_LIKE, SATURATING, SATURATION_MARGIN


def dead_fraction(pre_activation: tf.Tensor) -> tf.Tensor:
    """Units whose pre-activation is <= 0 for every example of the batch (no gradient
    flows); a [batch, ...] tensor's trailing axes are units too."""
    if pre_activation.shape.rank != 2:
        pre_activation = tf.reshape(pre_activation, [tf.shape(pre_activation)[0], -1])
    dead = tf.reduce_all(pre_activation <= 0.0, axis=0)
    return tf.reduce_mean(tf.cast(dead, tf.float32))


def saturated_fraction(activation: tf.Tensor, kind: str) -> tf.Tensor:
    """Outputs within SATURATION_MARGIN of the range of a saturating family's asymptotes."""
    low, high = ASYMPTOTES[kind]
    margin = SATURATION_MARGIN * (high - low)
    saturated = tf.logical_or(activation <= low + margin, activation >= high - margin)
    return tf.reduce_mean(tf.cast(saturated, tf.float32))


def unit_fraction(kind: str, pre_activation: tf.Tensor, activation: tf.Tensor) -> tf.Tensor | None:
    """The measure unit_fraction_tag names for this family, or None."""
    if kind in RELU_LIKE:
        return dead_fraction(pre_activation)
    if kind in SATURATING:
        return saturated_fraction(activation, kind)
    return None

"""What one training step measures, computed in-graph as named scalar tensors.

Names are the tag constants of core/schema/tags.py. Everything here runs inside the
compiled step, so a step costs one device-to-host copy of a single vector.
"""

from __future__ import annotations

import math

import tensorflow as tf

from core.schema.tags import (
    ACCURACY,
    ACTIVATION_MEAN,
    ACTIVATION_STD,
    GRAD_NORM,
    GRAD_NORM_GLOBAL,
    INPUT_MAX,
    INPUT_MEAN,
    INPUT_MIN,
    INPUT_STD,
    LOSS,
    NONFINITE_COUNT,
    UPDATE_RATIO,
    WEIGHT_NORM,
    layer_tag,
)
from core.schema.unit_measures import unit_fraction
from core.schema.units import unit_fraction_tag
from core.train.model import Dense, Forward


def count_nonfinite(tensor: tf.Tensor) -> tf.Tensor:
    """In-graph: how many of the tensor's values are NaN or infinite."""
    return tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(tensor)), tf.float32))


def statistic_names(activation: str, layer_names: list[str], var_names: list[str]) -> list[str]:
    """The tags of a step's statistics row, in row order: known before anything is traced,
    so the row's layout is data, not a by-product of tracing."""
    names = [LOSS, ACCURACY, GRAD_NORM_GLOBAL]
    for name in var_names:
        names += [layer_tag(GRAD_NORM, name), layer_tag(WEIGHT_NORM, name), layer_tag(UPDATE_RATIO, name)]
    for layer in layer_names:
        names += [layer_tag(ACTIVATION_MEAN, layer), layer_tag(ACTIVATION_STD, layer)]
        if (tag := unit_fraction_tag(activation, layer)) is not None:
            names.append(tag)
    return names + [INPUT_MIN, INPUT_MAX, INPUT_MEAN, INPUT_STD, NONFINITE_COUNT]


def squared_l2_norms(tensors: list[tf.Tensor]) -> tf.Tensor:
    """[len(tensors)] squared L2 norms: one fused pass per tensor (tf.nn.l2_loss, which
    makes no squared copy as tf.norm does)."""
    return 2.0 * tf.stack([tf.nn.l2_loss(tensor) for tensor in tensors])


def l2_norms(tensors: list[tf.Tensor]) -> tf.Tensor:
    """[len(tensors)] L2 norms, one sqrt for all of them. One vector, not a scalar each: in
    the step loop every carried tensor costs a few executor ops per step."""
    return tf.sqrt(squared_l2_norms(tensors))


def gradient_norms(grads: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """[len(grads)] gradient L2 norms, and the global norm of them all (tf.linalg.global_norm's sum)."""
    squares = squared_l2_norms(grads)
    return tf.sqrt(squares), tf.sqrt(tf.reduce_sum(squares))


def mean_std(tensor: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean and standard deviation over all values, the mean computed once."""
    mean, variance = tf.nn.moments(tensor, axes=list(range(tensor.shape.rank)))
    return mean, tf.sqrt(variance)


def step_row(
    *,
    activation: str,
    layers: list[Dense],
    names: list[str],
    x: tf.Tensor,
    labels: tf.Tensor,
    fwd: Forward,
    loss: tf.Tensor,
    grads: list[tf.Tensor],
    grad_norms: tf.Tensor,
    grad_norm_global: tf.Tensor,
    weights: list[tf.Tensor],
    weight_norms_before: tf.Tensor,
    update_norms: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """One step's statistics as a float32 row in statistic_names() order, and the weights'
    norms (the next step's `weight_norms_before`). Per variable, in `names` order: the
    gradients and their norms, the weights after the step, their norms before it, and the
    norms of the updates the optimizer subtracted (norms as [variables] vectors); and the
    global gradient norm."""
    predictions = tf.argmax(fwd.logits, axis=1, output_type=tf.int32)
    stats = {
        LOSS: loss,
        ACCURACY: tf.reduce_mean(tf.cast(tf.equal(predictions, labels), tf.float32)),
        GRAD_NORM_GLOBAL: grad_norm_global,
    }
    weight_norms = l2_norms(weights)
    ratios = update_ratios(update_norms, weight_norms_before)
    for name, grad_norm, weight_norm, ratio in zip(names, tf.unstack(grad_norms), tf.unstack(weight_norms), tf.unstack(ratios)):
        stats[layer_tag(GRAD_NORM, name)] = grad_norm
        stats[layer_tag(WEIGHT_NORM, name)] = weight_norm
        stats[layer_tag(UPDATE_RATIO, name)] = ratio
    for layer, z, h in zip(layers, fwd.pre_activations, fwd.activations):
        stats[layer_tag(ACTIVATION_MEAN, layer.name)], stats[layer_tag(ACTIVATION_STD, layer.name)] = mean_std(h)
        if (tag := unit_fraction_tag(activation, layer.name)) is not None:
            stats[tag] = unit_fraction(activation, z, h)
    stats[INPUT_MIN], stats[INPUT_MAX] = tf.reduce_min(x), tf.reduce_max(x)
    stats[INPUT_MEAN], stats[INPUT_STD] = mean_std(x)
    # Every grad and weight norm: finite only if all of their tensor's values are.
    stats[NONFINITE_COUNT] = nonfinite_total(loss, fwd.logits, grads, weights, tf.concat([grad_norms, weight_norms], 0))
    order = statistic_names(activation, [layer.name for layer in layers[: len(fwd.activations)]], names)
    assert set(order) == stats.keys(), "statistic_names and step_row disagree"
    return tf.stack([tf.cast(stats[name], tf.float32) for name in order]), weight_norms


def update_ratios(update_norms: tf.Tensor, before_norms: tf.Tensor) -> tf.Tensor:
    """||new - old|| / ||old|| per variable, from the norm of the update the optimizer
    subtracted: no copy of the old weights. The two agree to float rounding except for
    updates near the weights' float32 resolution (ratios under ~1e-6, vanishing gradients),
    where new - old shows the part rounding kept and this the update asked for.
    0/0 (zero init biases) counts as 0; weights already non-finite give NaN, as new - old does."""
    ratios = tf.math.divide_no_nan(update_norms, before_norms)
    return tf.where(tf.math.is_finite(before_norms), ratios, tf.constant(math.nan))


def nonfinite_total(loss, logits, grads, weights, norms: tf.Tensor) -> tf.Tensor:
    """NaN/Inf values in the loss, logits, gradients and weights, counted only when there
    can be any: a NaN or Inf makes its tensor's L2 norm (and the logits' sum) non-finite,
    so finite norms prove the count is 0 without the ~60 ops of counting (13% of a step).
    A norm that merely overflows takes the counting branch, which then counts right.
    `norms`: the gradients' and weights' norms, one vector."""
    guards = tf.concat([tf.stack([loss, tf.reduce_sum(logits)]), norms], 0)

    def count():
        total = count_nonfinite(loss) + count_nonfinite(logits)
        for tensor in [*grads, *weights]:
            total += count_nonfinite(tensor)
        return total

    return tf.cond(tf.reduce_all(tf.math.is_finite(guards)), lambda: tf.constant(0.0), count)

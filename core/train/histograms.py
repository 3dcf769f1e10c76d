"""NaN-safe histogram buckets computed in-graph, in the layout TensorBoard's histogram
plugin stores: [buckets, 3] rows of (left edge, right edge, count).

TF 2.21's tf.summary.histogram writes all-NaN bucket edges for a tensor holding a
single NaN, which hides every earlier step's histogram in TensorBoard; so non-finite
values are dropped first and their count travels next to the buckets.
"""

from __future__ import annotations

import math

import tensorflow as tf

HISTOGRAM_BUCKETS = 30


def finite_histograms(tensors: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """In-graph: [len(tensors), 30, 3] buckets of each tensor's finite values, and how many
    non-finite values were left out."""
    buckets, dropped = zip(*(finite_histogram(tensor) for tensor in tensors))
    return tf.stack(buckets), tf.add_n(dropped)


def finite_histogram(values: tf.Tensor, count: int = HISTOGRAM_BUCKETS) -> tuple[tf.Tensor, tf.Tensor]:
    """[count, 3] float64 rows of (left edge, right edge, count) over the finite values, as
    tf.summary.histogram writes them, and the number of non-finite values.

    One weighted bincount (weight 0 for non-finite values) instead of tf.summary.histogram's
    [n, count] one-hot, which made a step's histograms 14% of training time. Measured on
    the 14 tensors of a 784-100-100-10 net: 1.7 ms vs 2.3 ms with a boolean mask, and
    5.7 ms for all tensors at once with segment ops.
    """
    flat = tf.cast(tf.reshape(values, [-1]), tf.float64)
    finite = tf.math.is_finite(flat)
    low = tf.reduce_min(tf.where(finite, flat, math.inf))
    high = tf.reduce_max(tf.where(finite, flat, -math.inf))
    empty = low > high  # no finite value at all
    low, high = tf.where(empty, tf.zeros_like(low), low), tf.where(empty, tf.zeros_like(high), high)
    flat_range = tf.equal(low, high)  # one value repeated: a unit-wide range around it
    low, high = tf.where(flat_range, low - 0.5, low), tf.where(flat_range, high + 0.5, high)
    width = (high - low) / count
    position = tf.floor((tf.where(finite, flat, low) - low) / width)
    index = tf.cast(tf.clip_by_value(position, 0, count - 1), tf.int32)
    counts = tf.math.bincount(index, weights=tf.cast(finite, tf.float64), minlength=count, maxlength=count, dtype=tf.float64)
    edges = low + width * tf.range(count + 1, dtype=tf.float64)
    dropped = tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.float32))
    return tf.stack([edges[:-1], edges[1:], counts], axis=1), dropped

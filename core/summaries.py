"""NaN-safe TensorBoard summaries: histograms that drop and count non-finite values,
input images scaled for display, and the run's text metadata.

TF 2.21's tf.summary.histogram writes all-NaN bucket edges for a tensor holding a
single NaN, which hides every earlier step's histogram in TensorBoard; so non-finite
values are dropped first and their count is written as a scalar next to it.
"""

from __future__ import annotations

import tensorflow as tf

IMAGES_SHOWN = 8


def finite_histogram(tag: str, values: tf.Tensor, step) -> tf.Tensor:
    """Histogram of the finite values; returns how many values were dropped."""
    flat = tf.reshape(values, [-1])
    finite = tf.math.is_finite(flat)
    tf.summary.histogram(tag, tf.boolean_mask(flat, finite), step=step)
    return tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.float32))


def display_images(x: tf.Tensor) -> tf.Tensor:
    """The first few inputs as [k, 28, 28, 1] in [0, 1], min-max scaled over the batch so
    that raw 0-255 pixels, standardised pixels and noise all stay visible as they are."""
    images = tf.reshape(x[:IMAGES_SHOWN], [-1, 28, 28, 1])
    finite = tf.where(tf.math.is_finite(images), images, tf.zeros_like(images))
    low, high = tf.reduce_min(finite), tf.reduce_max(finite)
    return tf.math.divide_no_nan(finite - low, high - low)


def write_text(writer, step: int, texts: dict[str, str]) -> None:
    with writer.as_default(step=step):
        for tag, text in texts.items():
            tf.summary.text(tag, tf.constant(text))

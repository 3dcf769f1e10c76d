"""The statistics of one watched training step, computed in one compiled call.

A watched script runs eagerly; computing ~60 statistics as separate eager ops would cost
more than the step itself, so they are built in one tf.function per input structure and
come back as one vector. Names follow core/history.py, so the doctor and plots need no
special case. `loss_input/probabilities` is new for watched scripts: 1 when the loss was
handed rows of probabilities (in [0, 1], summing to 1) instead of logits.
"""

from __future__ import annotations

import tensorflow as tf

SATURATION_MARGIN = 0.01  # as core.train.instrument: within 1% of an asymptote
PROBABILITY_TOLERANCE = 1e-3
PROBABILITIES_TAG = "loss_input/probabilities"


def nonfinite(tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(tf.cast(tensor, tf.float32))), tf.float32))


def are_probabilities(values) -> tf.Tensor:
    """True when every row lies in [0, 1] and sums to 1: softmax output, not logits."""
    values = tf.cast(values, tf.float32)
    in_range = tf.reduce_all((values >= 0.0) & (values <= 1.0))
    sums_to_one = tf.reduce_all(tf.abs(tf.reduce_sum(values, axis=-1) - 1.0) < PROBABILITY_TOLERANCE)
    return in_range & sums_to_one


def _saturated(h, kind):
    low, high = (0.0, 1.0) if kind == "sigmoid" else (-1.0, 1.0)
    margin = SATURATION_MARGIN * (high - low)
    return tf.reduce_mean(tf.cast((h <= low + margin) | (h >= high - margin), tf.float32))


@tf.function(reduce_retracing=True)
def _step_vector(loss, x, grads, pre_acts, acts, labels, fed, kinds, sparse_labels):
    loss = tf.cast(loss, tf.float32)
    out = [loss]
    if labels is not None:
        predicted = tf.argmax(fed, axis=-1, output_type=tf.int32)
        truth = tf.cast(labels, tf.int32) if sparse_labels else tf.argmax(labels, axis=-1, output_type=tf.int32)
        out.append(tf.reduce_mean(tf.cast(tf.equal(predicted, tf.reshape(truth, tf.shape(predicted))), tf.float32)))
        out.append(tf.cast(are_probabilities(fed), tf.float32))
    grads = [tf.cast(g, tf.float32) for g in grads]
    out.append(tf.linalg.global_norm(grads))
    out += [tf.norm(g) for g in grads]
    for kind, z, h in zip(kinds, pre_acts, acts):
        h = tf.cast(h, tf.float32)
        out += [tf.reduce_mean(h), tf.math.reduce_std(h)]
        if kind == "relu":
            flat = tf.reshape(z, [tf.shape(z)[0], -1])
            out.append(tf.reduce_mean(tf.cast(tf.reduce_all(flat <= 0.0, axis=0), tf.float32)))
        else:
            out.append(_saturated(h, kind))
    if x is not None:
        x = tf.cast(x, tf.float32)
        out += [tf.reduce_min(x), tf.reduce_max(x), tf.reduce_mean(x), tf.math.reduce_std(x)]
    count = nonfinite(loss) + tf.add_n([nonfinite(g) for g in grads])
    if labels is not None:
        count += nonfinite(fed)
    out.append(count)
    return tf.stack(out)


@tf.function(reduce_retracing=True)
def _weight_vector(weights, previous):
    out = []
    for new, old in zip(weights, previous):
        new, old = tf.cast(new, tf.float32), tf.cast(old, tf.float32)
        # Relative to the weights before the step; 0/0 (zero biases) counts as 0, as in tblab's runs.
        out += [tf.norm(new), tf.math.divide_no_nan(tf.norm(new - old), tf.norm(old))]
    out.append(tf.add_n([nonfinite(w) for w in weights]))
    return tf.stack(out)


def step_statistics(
    *, loss, x, grads, names, layers, activations, labels, fed, sparse_labels
) -> dict[str, float]:
    """Tag -> value for one gradient call. `activations` are (kind, pre, post) of hidden layers
    named `layers`; `labels`/`fed` are what the loss was given (None when not seen)."""
    kinds = tuple(kind for kind, _, _ in activations)
    vector = _step_vector(
        loss, x, list(grads), [z for _, z, _ in activations], [h for _, _, h in activations],
        labels, fed if labels is not None else None, kinds, sparse_labels,
    ).numpy().tolist()
    tags = ["loss"]
    if labels is not None:
        tags += ["accuracy", PROBABILITIES_TAG]
    tags += ["grad_norm/global"] + [f"grad_norm/{name}" for name in names]
    for kind, layer in zip(kinds, layers):
        tags += [f"activation_mean/{layer}", f"activation_std/{layer}"]
        tags.append(f"dead_fraction/{layer}" if kind == "relu" else f"saturated_fraction/{layer}")
    if x is not None:
        tags += ["input/min", "input/max", "input/mean", "input/std"]
    tags.append("nonfinite/count")
    return dict(zip(tags, vector))


def weight_statistics(weights, previous, names) -> dict[str, float]:
    """weight_norm and update_ratio per variable (weights after the step vs before), and the
    non-finite weights (under key 'nonfinite/weights', added to the step's count by the caller)."""
    vector = _weight_vector(list(weights), list(previous)).numpy().tolist()
    scalars = {}
    for index, name in enumerate(names):
        scalars[f"weight_norm/{name}"] = vector[2 * index]
        scalars[f"update_ratio/{name}"] = vector[2 * index + 1]
    scalars["nonfinite/weights"] = vector[-1]
    return scalars

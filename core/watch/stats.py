"""The statistics of one watched training step, computed in one compiled call.

A watched script runs eagerly; computing ~60 statistics as separate eager ops would cost
more than the step itself, so they are built in one tf.function per input structure and
come back as one vector. Tags and the dead / saturated measures are core/schema's, so the
doctor and plots need no special case and a net measures the same as in a scenario run. Both halves of a step record (its own statistics, and the update it made)
go through one compiled call, called flat (0.3 ms for the baseline net alone, ~0.5 ms in
place), so hooks.py paces it (pacing.py). The loss, the batch accuracy and the non-finite
counts, recorded at every step, are read in NumPy instead (light_statistics, ~0.05 ms): a CPU
tensor's buffer is shared, so reading it adds no TensorFlow op and no copy.
Watched scripts also record LOSS_INPUT_PROBABILITIES: 1 when the loss was handed rows of
probabilities (in [0, 1], summing to 1) instead of logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from core.schema.tags import (
    ACCURACY, ACTIVATION_MEAN, ACTIVATION_STD, GRAD_NORM, GRAD_NORM_GLOBAL, INPUT_STATS, LOSS, LOSS_INPUT_PROBABILITIES,
    NONFINITE_COUNT, UPDATE_RATIO, WEIGHT_NORM, layer_tag,
)
from core.schema.unit_measures import unit_fraction
from core.schema.units import unit_fraction_tag

PROBABILITY_TOLERANCE = 1e-3


def are_probabilities(values) -> tf.Tensor:
    """True when every row lies in [0, 1] and sums to 1: softmax output, not logits."""
    values = tf.cast(values, tf.float32)
    in_range = tf.reduce_all((values >= 0.0) & (values <= 1.0))
    sums_to_one = tf.reduce_all(tf.abs(tf.reduce_sum(values, axis=-1) - 1.0) < PROBABILITY_TOLERANCE)
    return in_range & sums_to_one


def _norm(t):
    """tf.norm's value in 3 ops instead of 5 (fewer ops: a faster compiled call)."""
    return tf.sqrt(tf.reduce_sum(tf.square(t)))


def _step_vector(loss, x, grads, pre_acts, acts, labels, fed, kinds, sparse_labels):
    loss = tf.cast(loss, tf.float32)
    out = [loss]
    if labels is not None:  # the batch accuracy is light_statistics's, at every step
        out.append(tf.cast(are_probabilities(fed), tf.float32))
    grads = [tf.cast(g, tf.float32) for g in grads]
    norms = [_norm(g) for g in grads]
    global_norm = _norm(tf.stack(norms))
    out.append(global_norm)
    out += norms
    for kind, z, h in zip(kinds, pre_acts, acts):
        h = tf.cast(h, tf.float32)
        out += [tf.reduce_mean(h), tf.math.reduce_std(h)]
        fraction = unit_fraction(kind, z, h)
        if fraction is not None:
            out.append(fraction)
    if x is not None:
        x = tf.cast(x, tf.float32)
        out += [tf.reduce_min(x), tf.reduce_max(x), tf.reduce_mean(x), tf.math.reduce_std(x)]
    return tf.stack(out)  # the non-finite count is light_statistics's, in NumPy


def _weight_vector(weights, previous):
    out = []
    for new, old in zip(weights, previous):
        new, old = tf.cast(new, tf.float32), tf.cast(old, tf.float32)
        # Relative to the weights before the step; 0/0 (zero biases) counts as 0, as in tblab's runs.
        out += [_norm(new), tf.math.divide_no_nan(_norm(new - old), _norm(old))]
    return tf.stack(out)


@tf.function(reduce_retracing=True)
def _both(step_inputs, weights, previous):
    """One compiled call for a step's record: its statistics and its update (weights after against before)."""
    return _step_vector(*step_inputs), _weight_vector(weights, previous)


_step_only = tf.function(_step_vector, reduce_retracing=True)


_concrete: dict = {}  # (function, input signature) -> (ConcreteFunction, its flat caller)


def _signature(value):
    """A hashable key of the inputs' structure: ranks, dtypes and every size but the first
    (batch sizes vary: the last batch of an epoch is smaller; one trace serves them all)."""
    if isinstance(value, (list, tuple)):
        return tuple(_signature(v) for v in value)
    shape_of = getattr(value, "_shape_tuple", None)  # an eager tensor's shape, read in C
    if shape_of is not None:
        shape = shape_of()
        return (len(shape), shape[1:], value.dtype)
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return (len(shape), tuple(shape)[1:], str(dtype))
    return value  # a Python value baked into the trace: kinds, flags, None


def _spec(value):
    """A tensor's TensorSpec with its first size left open (see _signature)."""
    if isinstance(value, tf.Tensor) and value.shape.rank:
        return tf.TensorSpec([None, *value.shape[1:]], value.dtype)
    return value


def _flat_caller(concrete):
    """The ConcreteFunction called with its inputs already flat: its public call binds and
    checks the ~30 nested arguments in Python at every step, 0.19 ms of a 0.45 ms call for
    the baseline net (best of 400). None when TensorFlow's private _call_flat is not there."""
    call_flat = getattr(concrete, "_call_flat", None)
    if call_flat is None:
        return None
    captured = concrete.captured_inputs
    expected = len(concrete.inputs) - len(captured)

    def call(args):
        leaves = tf.nest.flatten(args)
        flat = [leaf for leaf in leaves if isinstance(leaf, tf.Tensor)]
        if len(flat) != expected or any(hasattr(leaf, "shape") and not isinstance(leaf, tf.Tensor) for leaf in leaves):
            return concrete(*args)  # an input that is not a tensor (a NumPy array): the public call converts it
        return call_flat(flat, captured)

    return call


def stats_traces() -> int:
    """How many statistics functions were traced so far (a call that traced is slow)."""
    return len(_concrete)


def _call(function, *args):
    """Call a tf.function through the ConcreteFunction for these inputs' shapes and dtypes,
    the polymorphic dispatch and argument binding skipped."""
    key = (function, _signature(args))
    entry = _concrete.get(key)
    if entry is None:
        concrete = function.get_concrete_function(*tf.nest.map_structure(_spec, args))
        entry = _concrete[key] = (concrete, _flat_caller(concrete))
    concrete, call_flat = entry
    return call_flat(args) if call_flat is not None else concrete(*args)


def _step_inputs(loss, x, grads, activations, labels, fed, sparse_labels):
    kinds = tuple(kind for kind, _, _ in activations)
    return (
        loss, x, list(grads), [z for _, z, _ in activations], [h for _, _, h in activations],
        labels, fed if labels is not None else None, kinds, sparse_labels,
    )


def _step_tags(names, layers, kinds, has_labels: bool, has_x: bool) -> list[str]:
    tags = [LOSS]
    if has_labels:
        tags.append(LOSS_INPUT_PROBABILITIES)
    tags += [GRAD_NORM_GLOBAL] + [layer_tag(GRAD_NORM, name) for name in names]
    for kind, layer in zip(kinds, layers):
        tags += [layer_tag(ACTIVATION_MEAN, layer), layer_tag(ACTIVATION_STD, layer)]
        if (tag := unit_fraction_tag(kind, layer)) is not None:
            tags.append(tag)
    if has_x:
        tags += list(INPUT_STATS)
    return tags


def _weight_scalars(vector: list[float], names) -> dict[str, float]:
    scalars = {}
    for index, name in enumerate(names):
        scalars[layer_tag(WEIGHT_NORM, name)] = vector[2 * index]
        scalars[layer_tag(UPDATE_RATIO, name)] = vector[2 * index + 1]
    return scalars


@dataclass(frozen=True)
class StepMeasures:
    """What measure_step found: the step's own scalars and, given the weights after and
    before it, its update's (weight_norm and update_ratio per variable) and how many of
    the weights after it are non-finite (the caller adds them to the step's count)."""

    step: dict[str, float]
    update: dict[str, float] | None = None
    nonfinite_weights: float = 0.0


def measure_step(
    *, loss, x, grads, names, layers, activations, labels, fed, sparse_labels, weights=None, previous=None, light=None
) -> StepMeasures:
    """The measures of one gradient call (and of its update, given `weights` after the
    step and `previous` before it). `activations` are (kind, pre, post) of hidden layers
    named `layers`; `labels`/`fed` are what the loss was given (None when not seen);
    `light`: this step's light_statistics when already taken."""
    inputs = _step_inputs(loss, x, grads, activations, labels, fed, sparse_labels)
    tags = _step_tags(names, layers, inputs[7], labels is not None, x is not None)
    update, nonfinite_weights = None, 0.0
    if previous is None:
        step_vector = _call(_step_only, *inputs)
    else:
        step_vector, weight_vector = _call(_both, inputs, list(weights), list(previous))
        update = _weight_scalars(weight_vector.numpy().tolist(), names)
        nonfinite_weights = count_nonfinite_values(weights)
    step_part = dict(zip(tags, step_vector.numpy().tolist()))
    step_part.update(light or light_statistics(loss=loss, grads=grads, labels=labels, fed=fed, sparse_labels=sparse_labels))
    return StepMeasures(step_part, update, nonfinite_weights)


def count_nonfinite_values(tensors) -> float:
    """How many values of these tensors are NaN or infinite (see norms_and_nonfinite)."""
    return norms_and_nonfinite(tensors)[1]


def norms_and_nonfinite(tensors) -> tuple[list[float], float]:
    """Each tensor's L2 norm and how many of their values are NaN or infinite, read in place
    with NumPy (a CPU tensor's .numpy() shares its buffer), in one pass: a float32/64 array's
    dot with itself (BLAS, ~3x faster than a sum) is finite exactly when every value is, save
    for an overflow of finite values (|x| > ~1e19 in float32, where TensorFlow's norm overflows
    too): only then, or when there is one, are they counted."""
    norms, count = [], 0
    with np.errstate(over="ignore", invalid="ignore"):  # no warning in the user's output; entered once (~4 us)
        for tensor in tensors:
            values = np.asarray(tensor)
            if values.dtype.kind in "biu":  # integers and booleans are always finite
                norms.append(float(np.linalg.norm(values)))
                continue
            square_sum = _square_sum(values)
            norms.append(math.sqrt(square_sum) if square_sum >= 0 else math.nan)
            if not math.isfinite(square_sum):
                count += values.size - int(np.count_nonzero(np.isfinite(values)))
    return norms, float(count)


def _square_sum(values: np.ndarray) -> float:
    flat = values.ravel()  # a view for the contiguous buffers TensorFlow hands over
    if values.dtype in (np.float32, np.float64):
        return float(np.dot(flat, flat))
    return float(np.sum(np.square(flat.astype(np.float32))))  # float16, bfloat16: no BLAS


def batch_accuracy(labels, fed, sparse_labels: bool) -> float | None:
    """The share of the batch whose largest value of what the loss was handed (logits or
    probabilities) is at its label, in NumPy; None when the labels do not line up with it."""
    fed = np.asarray(fed)
    if fed.ndim < 1 or fed.shape[-1] < 1:
        return None
    predicted = np.argmax(fed, axis=-1).ravel()
    truth = np.asarray(labels)
    if not sparse_labels:
        if truth.shape != fed.shape:
            return None
        truth = np.argmax(truth, axis=-1)
    truth = truth.ravel()
    if truth.size != predicted.size or predicted.size == 0:
        return None
    return float(np.mean(predicted == truth.astype(np.int64, copy=False)))


def light_statistics(*, loss, grads, labels, fed, sparse_labels=True, **_) -> dict[str, float]:
    """What every step records exactly, however the full statistics are paced (pacing.py):
    the loss, the batch accuracy (when the loss's labels were seen) and the non-finite values
    of the loss, the gradients and what the loss was handed.
    Without a compiled call: 0.05 ms against 0.4 ms in place for the baseline net."""
    checked = [loss, *grads] + ([fed] if labels is not None else [])
    scalars = {LOSS: float(np.asarray(loss, np.float32)), NONFINITE_COUNT: count_nonfinite_values(checked)}
    accuracy = batch_accuracy(labels, fed, sparse_labels) if labels is not None else None
    if accuracy is not None:
        scalars[ACCURACY] = accuracy
    return scalars

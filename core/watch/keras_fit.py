"""Keras: a callback added to the user's `fit`, and the lr fixes on optimizer objects.

Imported only in the watched script's child process (Keras with it). Keras runs its train
step compiled, so the callback (WatchCallback) measures from outside it, through the
Watch's public parts (its variable registry, fix patches and recorder): per batch,
the loss and accuracy (Keras 3 logs running means over the epoch; the batch's own value is
recovered from consecutive means, weighted by batch size) and the weights before and after
(norms, update ratios, non-finite values); every `probe_every` steps, one eager pass on a
fixed probe batch of the training data gives gradients, activations (through the
activation hooks) and input statistics; at the end of each epoch, validation values.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.eager import backprop

from core.schema.tags import (
    ACCURACY, ACTIVATION_MEAN, ACTIVATION_STD, DEAD_FRACTION, GRAD_NORM, INPUT_STATS, LOSS, LOSS_INPUT_PROBABILITIES,
    NONFINITE_COUNT, SATURATED_FRACTION, UPDATE_RATIO, WEIGHT_NORM, layer_tag,
)
from core.schema.units import RECORDED
from core.watch.stats import measure_step

KERAS_DEFAULT_BATCH = 32
# What the probe pass measures better than the callback can (the rest is the callback's own).
PROBE_TAGS = (
    *(f"{prefix}/" for prefix in (GRAD_NORM, ACTIVATION_MEAN, ACTIVATION_STD, DEAD_FRACTION, SATURATED_FRACTION)),
    *INPUT_STATS, LOSS_INPUT_PROBABILITIES,
)
# Keras's log keys -> tblab's tags (Keras names accuracy after the metric asked for).
TRAIN_KEYS = (("loss", LOSS), ("accuracy", ACCURACY), ("sparse_categorical_accuracy", ACCURACY))
VAL_KEYS = tuple((f"val_{key}", tag) for key, tag in TRAIN_KEYS)


def _probe_batch(args, kwargs, batch_size: int):
    """A batch of the training data (x, y), or None when it cannot be had."""
    x = kwargs.get("x", args[0] if args else None)
    y = kwargs.get("y", args[1] if len(args) > 1 else None)
    if isinstance(x, tf.data.Dataset):
        for element in x.take(1):
            return (element[0], element[1]) if isinstance(element, tuple) and len(element) >= 2 else None
        return None
    if x is None or y is None or not hasattr(x, "__len__"):
        return None
    # A random batch, not the first one: a stored dataset may be ordered by class, and a
    # class-balanced batch hides the label noise that the doctor's loss-floor rule measures.
    picked = np.sort(np.random.default_rng(0).choice(len(x), min(batch_size, len(x)), replace=False))
    return tf.convert_to_tensor(np.asarray(x)[picked]), tf.convert_to_tensor(np.asarray(y)[picked])


def _sample_count(args, kwargs):
    x = kwargs.get("x", args[0] if args else None)
    return len(x) if hasattr(x, "__len__") and not isinstance(x, tf.data.Dataset) else None


class WatchCallback(keras.callbacks.Callback):
    """Added to the user's fit: measures each batch from outside Keras's compiled step."""

    def __init__(self, watch, batch_size: int, samples: int | None, probe):
        super().__init__()
        self.watch = watch
        self.batch_size, self.samples, self.probe = batch_size, samples, probe
        self.previous_means: dict[str, float] = {}
        self.previous_count = 0

    def on_train_begin(self, logs=None):
        watch = self.watch
        self.other_model = not watch.variables.is_recorded_model(list(self.model.trainable_variables))
        if self.other_model:
            return
        self.layout = watch.variables.adopt(list(self.model.trainable_variables))
        watch.announce("keras fit", {})
        watch.patches.reinitialise_once(list(self.layout.variables))
        watch.patches.scale_optimizer_once(getattr(self.model, "optimizer", None))
        self.before = [np.array(v.numpy()) for v in self.layout.variables]
        watch.send_config(self._config())

    def _config(self) -> dict:
        """The batch size and the first hidden activation (ReLU when the activation fix swaps it in)."""
        activations = [getattr(layer, "activation", None) for layer in self.model.layers]
        kinds = [getattr(a, "__name__", "") for a in activations if a is not None]
        config = {"batch_size": self.batch_size}
        hidden = [k for k in kinds if k in RECORDED]
        if hidden:
            config["activation"] = "relu" if "activation" in self.watch.patches.fixes and hidden[0] != "relu" else hidden[0]
        return config

    def _size(self, batch: int) -> int:
        """The batch's examples: the last batch of an epoch may be smaller."""
        if self.samples is None:
            return self.batch_size
        return max(1, min(self.batch_size, self.samples - batch * self.batch_size))

    def _batch_value(self, key: str, mean: float, batch: int) -> float:
        """This batch's own value from Keras's running mean over the epoch."""
        size = self._size(batch)
        count_before = 0 if batch == 0 else self.previous_count
        previous = self.previous_means.get(key, 0.0) if batch else 0.0
        value = (mean * (count_before + size) - previous * count_before) / size
        self.previous_means[key] = mean
        return value

    def on_train_batch_end(self, batch, logs=None):
        watch, logs = self.watch, logs or {}
        if self.other_model:
            self._other_model_step()
            return
        step = watch.step
        scalars = {}
        for key, tag in TRAIN_KEYS:
            if key in logs and tag not in scalars:
                scalars[tag] = float(self._batch_value(key, float(logs[key]), batch))
        self.previous_count = (0 if batch == 0 else self.previous_count) + self._size(batch)
        bad = (0.0 if math.isfinite(scalars.get(LOSS, 0.0)) else 1.0) + self._update_scalars(scalars)
        if self.probe is not None and step % watch.spec.probe_every == 0:
            probed = self._probe(step)
            bad += probed.pop(NONFINITE_COUNT, 0.0)
            scalars.update(probed)
        scalars[NONFINITE_COUNT] = bad
        watch.recorder.send_step(step, scalars)
        watch.step_done()
        if watch.stopping:
            self.model.stop_training = True

    def _other_model_step(self) -> None:
        self.watch.other_model_step(len(self.model.trainable_variables))
        if self.watch.stopping:
            self.model.stop_training = True

    def _update_scalars(self, scalars: dict[str, float]) -> float:
        """The batch's weight norms and update ratios into `scalars`; the non-finite weights."""
        after = [np.array(v.numpy()) for v in self.layout.variables]
        bad = 0.0
        for name, old, new in zip(self.layout.names, self.before, after):
            new_norm, old_norm = float(np.linalg.norm(new)), float(np.linalg.norm(old))
            scalars[layer_tag(WEIGHT_NORM, name)] = new_norm
            scalars[layer_tag(UPDATE_RATIO, name)] = float(np.linalg.norm(new - old)) / old_norm if old_norm > 0 else 0.0
            bad += float(np.count_nonzero(~np.isfinite(new)))
        self.before = after
        return bad

    def _probe(self, step: int) -> dict[str, float]:
        """One eager pass on the probe batch: gradients, activations and input statistics."""
        watch, (x, y) = self.watch, self.probe
        variables = list(self.layout.variables)
        with watch.recorder.probe(x) as capture:
            with backprop.GradientTape() as tape:  # the plain tape: this is not a user's step
                predicted = self.model(x, training=True)
                loss = self.model.compute_loss(x=x, y=y, y_pred=predicted)
            grads = tape.gradient(loss, variables)
        grads = [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, variables)]
        acts = capture.hidden(self.layout)
        labels, fed, sparse = capture.loss_inputs or (None, None, True)
        flat_x = tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1])
        scalars = measure_step(
            loss=loss, x=flat_x, grads=grads, names=self.layout.names, layers=self.layout.hidden_layers[: len(acts)],
            activations=acts, labels=labels, fed=fed, sparse_labels=sparse,
        ).step
        if step % watch.spec.histogram_every == 0:
            weights = [tf.convert_to_tensor(v) for v in variables]
            watch.recorder.send_snapshot(step, grads, weights, self.layout, acts, flat_x)
        nonfinite = scalars.pop(NONFINITE_COUNT)
        kept = {k: v for k, v in scalars.items() if k.startswith(PROBE_TAGS)}
        kept[NONFINITE_COUNT] = nonfinite
        return kept

    def on_epoch_end(self, epoch, logs=None):
        if self.other_model:
            return  # another model's validation is not the recorded model's test accuracy
        logs = logs or {}
        val = {}
        for key, tag in VAL_KEYS:
            if key in logs and tag not in val:
                val[tag] = float(logs[key])
        if val:
            self.watch.send_eval(val)


def install_fit_hook(watch) -> None:
    """Keras Model.fit runs with a WatchCallback added (and not at all once --steps is reached)."""
    original_fit = keras.Model.fit

    def fit(self, *args, **kwargs):
        batch_size = kwargs.get("batch_size") or KERAS_DEFAULT_BATCH
        callback = WatchCallback(watch, batch_size, _sample_count(args, kwargs), _probe_batch(args, kwargs, batch_size))
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), callback]
        if watch.stopping:
            return None
        with watch.fitting():
            return original_fit(self, *args, **kwargs)

    keras.Model.fit = fit


def install_optimizer_hook(watch) -> None:
    """lr_down / lr_up on a custom loop's optimizer object: its learning rate is scaled at its
    first apply (Keras fit's optimizer is scaled by the callback, before training)."""
    if watch.spec.lr_factor == 1.0 or watch.spec.lr_target != "optimizer":
        return
    for method in ("apply_gradients", "apply"):
        original = getattr(keras.optimizers.Optimizer, method)

        def hooked(self, *args, _original=original, **kwargs):
            if tf.executing_eagerly():
                watch.patches.scale_optimizer_once(self)
            return _original(self, *args, **kwargs)

        setattr(keras.optimizers.Optimizer, method, hooked)

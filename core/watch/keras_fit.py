"""Keras: a callback added to the user's `fit`, and the lr fixes on optimizer objects.

Imported only in the watched script's child process (Keras with it). Keras runs its train
step compiled, so the callback (WatchCallback) measures from outside it, through the
Watch's public parts (its variable registry, fix patches and recorder): per batch,
the loss and accuracy (Keras 3 logs running means over the epoch; the batch's own value is
recovered from consecutive means, weighted by batch size), the weight norms and non-finite
weights; every `probe_every` steps, the update ratios (weights before and after) and one pass on a
fixed probe batch of the training data gives gradients, activations (through the
activation hooks, recording the pass while it is traced into one tf.function) and input
statistics; at the end of each epoch, validation values.
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.eager import backprop

from core.schema.tags import (
    ACCURACY, ACTIVATION_MEAN, ACTIVATION_STD, DEAD_FRACTION, GRAD_NORM, INPUT_STATS, LOSS, LOSS_INPUT_PROBABILITIES,
    NONFINITE_COUNT, SATURATED_FRACTION, UPDATE_RATIO, WEIGHT_NORM, layer_tag,
)
from core.schema.units import RECORDED
from core.watch.stats import measure_step, norms_and_nonfinite
from core.watch.variables import read

KERAS_DEFAULT_BATCH = 32
EAGER_PROBE_ENV = "TBLAB_EAGER_PROBE"  # "1": the probe pass eager, never compiled (tests compare the two)
EAGER_NOTICE = "the probe batch's statistics are measured eagerly, slower: the model could not be traced"
# What the probe pass measures better than the callback can (the rest is the callback's own).
PROBE_TAGS = (
    *(f"{prefix}/" for prefix in (GRAD_NORM, ACTIVATION_MEAN, ACTIVATION_STD, DEAD_FRACTION, SATURATED_FRACTION)),
    *INPUT_STATS, LOSS_INPUT_PROBABILITIES,
)
# Keras's log keys -> tblab's tags (Keras names accuracy after the metric asked for).
TRAIN_KEYS = (("loss", LOSS), ("accuracy", ACCURACY), ("sparse_categorical_accuracy", ACCURACY))
VAL_KEYS = tuple((f"val_{key}", tag) for key, tag in TRAIN_KEYS)


def _read(variable):
    """A variable's value now, through the TensorFlow variable a Keras 3 variable holds
    (45 us for keras_healthy's six, copied, against 145 us through Keras's .numpy())."""
    inner = getattr(variable, "value", variable)
    return read(variable if callable(inner) else inner)


def _copy(variable) -> np.ndarray:
    return np.array(_read(variable))


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
        self.compiled_probe: CompiledProbe | bool | None = None  # made at the first probe; False: eager
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
        self.before = [_copy(v) for v in self.layout.variables]  # before the next probe step's update
        self.before_step: int | None = watch.step - 1  # the step self.before was taken after
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
        bad = (0.0 if math.isfinite(scalars.get(LOSS, 0.0)) else 1.0) + self._update_scalars(step, scalars)
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

    def _update_scalars(self, step: int, scalars: dict[str, float]) -> float:
        """The weight norms after this batch into `scalars`, and the non-finite weights; on a
        probe step, also the update ratios (paced with the probe, as a custom loop's full
        statistics), against a copy taken at the batch before. Other batches read the weights
        in place and let go of them at once: held, a read would make Keras's next update copy
        the variable."""
        every = self.watch.spec.probe_every
        if (step + 1) % every == 0:
            after = [_copy(v) for v in self.layout.variables]
        else:
            after = [np.asarray(_read(v)) for v in self.layout.variables]
        norms, bad = norms_and_nonfinite(after)
        if step % every == 0 and self.before_step == step - 1:
            old_norms, _ = norms_and_nonfinite(self.before)
            updates = [np.subtract(new, old, out=old) if old.shape == new.shape else new - old
                       for old, new in zip(self.before, after)]
            for name, old_norm, update_norm in zip(self.layout.names, old_norms, norms_and_nonfinite(updates)[0]):
                scalars[layer_tag(UPDATE_RATIO, name)] = update_norm / old_norm if old_norm > 0 else 0.0
        scalars.update(zip((layer_tag(WEIGHT_NORM, name) for name in self.layout.names), norms))
        self.before, self.before_step = (after, step) if (step + 1) % every == 0 else (None, None)
        return bad

    def _probe(self, step: int) -> dict[str, float]:
        """One pass on the probe batch: gradients, activations and input statistics."""
        watch, (x, _) = self.watch, self.probe
        loss, grads, acts, labels, fed, sparse = self._probe_pass()
        flat_x = tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1])
        scalars = measure_step(
            loss=loss, x=flat_x, grads=grads, names=self.layout.names, layers=self.layout.hidden_layers[: len(acts)],
            activations=acts, labels=labels, fed=fed, sparse_labels=sparse,
        ).step
        if step % watch.spec.histogram_every == 0:
            weights = [tf.convert_to_tensor(v) for v in self.layout.variables]
            watch.recorder.submit_snapshot(step, grads, weights, self.layout, acts, flat_x)
        nonfinite = scalars.pop(NONFINITE_COUNT)
        kept = {k: v for k, v in scalars.items() if k.startswith(PROBE_TAGS)}
        kept[NONFINITE_COUNT] = nonfinite
        return kept

    def _probe_pass(self):
        """(loss, grads, activations, labels, fed, sparse) of the probe batch: compiled, as Keras
        runs its own step (an eager Keras pass cost ~4 ms against ~0.5 ms), or eager for a model
        that cannot be traced."""
        if self.compiled_probe is None:
            self.compiled_probe = CompiledProbe(self) if os.environ.get(EAGER_PROBE_ENV) != "1" else False
        if self.compiled_probe:
            try:
                return self.compiled_probe()
            except Exception as error:  # noqa: BLE001 - a model the trace cannot take: the eager pass measures the same
                self.compiled_probe = False
                self.watch.notice(f"{EAGER_NOTICE} ({type(error).__name__})")
        return self._eager_pass()

    def _eager_pass(self):
        watch, (x, y) = self.watch, self.probe
        variables = list(self.layout.variables)
        with watch.recorder.probe(x) as capture:
            with backprop.GradientTape() as tape:  # the plain tape: this is not a user's step
                predicted = self.model(x, training=True)
                loss = self.model.compute_loss(x=x, y=y, y_pred=predicted)
            grads = tape.gradient(loss, variables)
        grads = [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, variables)]
        labels, fed, sparse = capture.loss_inputs or (None, None, True)
        return loss, grads, capture.hidden(self.layout), labels, fed, sparse


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


class CompiledProbe:
    """The probe pass as one tf.function: the activation and loss hooks record its symbolic
    tensors while it is traced (recorder.probe(traced=True)), and it returns them; what is
    not a tensor (activation kinds, sparse labels) is kept from the trace."""

    def __init__(self, callback: WatchCallback) -> None:
        self.callback = callback
        self.kinds: list[str] = []
        self.sparse = True
        self.function = tf.function(self._pass)

    def _pass(self, x, y):
        callback = self.callback
        variables = list(callback.layout.variables)
        with callback.watch.recorder.probe(x, traced=True) as capture:
            with backprop.GradientTape() as tape:
                predicted = callback.model(x, training=True)
                loss = callback.model.compute_loss(x=x, y=y, y_pred=predicted)
            grads = tape.gradient(loss, variables)
        grads = [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, variables)]
        acts = capture.hidden(callback.layout)
        labels, fed, self.sparse = capture.loss_inputs or (None, None, True)
        self.kinds = [kind for kind, _, _ in acts]
        seen = (labels, fed) if labels is not None else ()
        return loss, grads, [z for _, z, _ in acts], [h for _, _, h in acts], seen

    def __call__(self):
        x, y = self.callback.probe
        loss, grads, pre, post, seen = self.function(x, y)
        labels, fed = seen if seen else (None, None)
        return loss, list(grads), list(zip(self.kinds, pre, post)), labels, fed, self.sparse


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

"""The fixes as patches of a watched script's TensorFlow calls, never edits of its file:
ReLU for sigmoid/tanh, He/Glorot weights before the first update, a clean and
standardised first-layer input, logits for a loss handed probabilities, and the learning
rate scaled on the optimizer or the gradients. Each patch notes when it changed something
(`seen`), so the child can say which asked-for fixes found nothing to change.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from core.schema.units import SATURATING, glorot_limit, he_std
from core.watch.spec import WatchSpec
from core.watch.stats import are_probabilities

ORIGINAL_RELU = tf.nn.relu
PROBABILITY_FLOOR = np.finfo(np.float32).tiny  # log(0) would be -inf; log(tiny) is -87


class FixPatches:
    """The fixes asked for one watched run; `notice` tells the learner what a fix did."""

    def __init__(self, spec: WatchSpec, notice: Callable[[str], None]) -> None:
        self.spec = spec
        self.fixes = frozenset(spec.fixes)
        self.notice = notice
        self.seen: set[str] = set()  # fixes that found something to change
        self.initialised = False
        self.normalizer: tuple[float, float] | None = None
        self.clean_batch: list | None = None  # the float tensors of the last tf.data element
        self._scaled_optimizers: set[int] = set()

    # --- init ------------------------------------------------------------------------------
    def reinitialise_once(self, variables: list) -> None:
        """The init fix, once, before the first update: He/Glorot kernels and zero biases."""
        if "init" not in self.fixes or self.initialised:
            return
        self.initialised = True
        rng = np.random.default_rng(self.spec.seed)
        changed = 0
        for var in variables:
            dtype = tf.as_dtype(var.dtype)  # Keras variables name their dtype as a string
            if not (getattr(var, "trainable", False) and dtype.is_floating):
                continue
            shape = tuple(var.shape)
            if len(shape) == 2:
                fan_in, fan_out = shape
                if self.spec.initializer == "glorot":
                    limit = glorot_limit(fan_in, fan_out)
                    value = rng.uniform(-limit, limit, shape)
                else:
                    value = rng.normal(0.0, he_std(fan_in), shape)
            elif len(shape) == 1:
                value = np.zeros(shape)
            else:
                continue
            var.assign(value.astype(dtype.as_numpy_dtype))
            changed += 1
        self.notice(f"fix init: {changed} variables re-initialised ({self.spec.initializer} kernels, zero biases)"
                    if changed else "fix init: no variables found before the first training step; nothing changed")

    # --- activation ------------------------------------------------------------------------------
    def activation(self, kind: str, original, args, kwargs) -> tuple[str, object, object]:
        """(kind, pre-activation, activation) of a hooked activation call; with the
        activation fix, a sigmoid or tanh is computed as a ReLU."""
        if kind in SATURATING and "activation" in self.fixes:
            self.seen.add("activation")
            features = args[0] if args else kwargs.get("x", kwargs.get("features"))
            return "relu", features, ORIGINAL_RELU(features)
        h = original(*args, **kwargs)
        return kind, args[0] if args else kwargs.get("features", kwargs.get("x")), h

    # --- the first layer's input ----------------------------------------------------------------
    def remember_clean_batch(self, element) -> None:
        """The float tensors of a tf.data element: the no_noise fix's stand-ins."""
        self.clean_batch = [t for t in tf.nest.flatten(element) if getattr(t, "dtype", None) is not None and t.dtype.is_floating]

    def first_layer_input(self, x, in_tape: bool):
        """The first layer's input after the no_noise (in a training step) and normalize fixes."""
        if in_tape and "no_noise" in self.fixes:
            x = self._clean(x)
        if "normalize" in self.fixes:
            x = self._normalize(x)
        return x

    def _clean(self, x):
        size = int(np.prod(x.shape))
        for candidate in self.clean_batch or ():
            if int(np.prod(candidate.shape)) == size:
                candidate = tf.reshape(tf.cast(candidate, x.dtype), x.shape)
                if not bool(tf.reduce_all(tf.equal(candidate, x))):
                    self.seen.add("no_noise")
                return candidate
        self.notice("fix no_noise: the first layer's input is not a batch the tf.data pipeline produced; left as it is")
        return x

    def _normalize(self, x):
        x = tf.convert_to_tensor(x)
        if self.normalizer is None:
            values = tf.cast(x, tf.float32)
            mean, std = float(tf.reduce_mean(values)), float(tf.math.reduce_std(values))
            self.normalizer = (mean, std if std > 0 else 1.0)
            self.notice(f"fix normalize: first-layer inputs standardised with mean {mean:.4g}, std {std:.4g} (the first batch's)")
        mean, std = self.normalizer
        self.seen.add("normalize")
        return (x - tf.cast(mean, x.dtype)) / tf.cast(std, x.dtype)

    # --- the loss ---------------------------------------------------------------------------------
    def loss_logits(self, logits):
        """What a softmax cross-entropy is handed; with the logits fix, probabilities become
        their logarithm (exact: softmax(log p) = p)."""
        if "logits" not in self.fixes:
            return logits
        logits = tf.convert_to_tensor(logits)
        if tf.executing_eagerly():
            if bool(are_probabilities(logits)):
                self.seen.add("logits")
                return tf.math.log(tf.maximum(logits, PROBABILITY_FLOOR))
            return logits
        return tf.where(are_probabilities(logits), tf.math.log(tf.maximum(logits, PROBABILITY_FLOOR)), logits)

    # --- the learning rate --------------------------------------------------------------------------
    def scale_optimizer_once(self, optimizer) -> None:
        """lr_down / lr_up on an optimizer object, once per optimizer."""
        factor = self.spec.lr_factor
        if factor == 1.0 or optimizer is None or id(optimizer) in self._scaled_optimizers:
            return
        self._scaled_optimizers.add(id(optimizer))
        new = float(np.asarray(optimizer.learning_rate)) * factor
        optimizer.learning_rate = new
        self.notice(f"fix lr: the optimizer's learning rate is now {new:.4g}")

    def scale_gradients(self, grads):
        """lr_down / lr_up on a hand-written update (var.assign_sub(lr * grad)): the gradients scaled."""
        factor = self.spec.lr_factor
        if factor == 1.0 or self.spec.lr_target != "gradients":
            return grads
        return tf.nest.map_structure(lambda g: None if g is None else g * factor, grads)

"""Run-time hooks for a user's custom training loop (eager TensorFlow 2).

One training step is one tf.GradientTape.gradient call. Inside the tape, hooked
tf.nn.relu / sigmoid / tanh calls give each hidden layer's activations, the first
matmul with a variable gives the first layer's input batch, and the hooked softmax
cross-entropy gives the labels and what the loss was handed. The gradient call gives the
loss (the tape's target), the variables and their gradients. Weights are read at every
gradient call, so the update a step made is seen at the next one (weights before and
after), whatever wrote it: var.assign_sub, an optimizer, anything.

Fixes are patches of these same calls, never edits of the script: see Watch.fixes.
"""

from __future__ import annotations

import functools
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from tensorflow.python.data.ops import iterator_ops
from tensorflow.python.eager import backprop
from tensorflow.python.framework import tensor as tensor_lib
from tensorflow.python.ops import gen_resource_variable_ops, resource_variable_ops

from core.schema.tags import (
    ACCURACY, ACTIVATIONS, GRADIENTS, IMAGE_SIDE, IMAGES_SHOWN, INPUT_DIM, LOSS, NONFINITE_COUNT, WEIGHTS, layer_tag,
)
from core.schema.units import RECORDED, SATURATING, glorot_limit, he_std
from core.watch.histograms import histogram_buckets_numpy
from core.watch.layout import Layout, make_layout, script_names
from core.watch.pacing import StatsPacer
from core.watch.protocol import Channel, pack_array
from core.watch.spec import WatchSpec, WatchStop
from core.watch.stats import are_probabilities, count_nonfinite_values, light_statistics, measure_step, stats_traces

ORIGINAL_RELU = tf.nn.relu
JOB_BACKLOG = 16
PROBABILITY_FLOOR = np.finfo(np.float32).tiny  # log(0) would be -inf; log(tiny) is -87


def _is_variable(value) -> bool:
    return isinstance(value, tf.Variable)


def _read(variable):
    """A variable's value now: the bare read op for TensorFlow's resource variables (26 us for
    the baseline's six against 66 us through tf.convert_to_tensor), else the conversion."""
    if isinstance(variable, resource_variable_ops.BaseResourceVariable):
        return gen_resource_variable_ops.read_variable_op(variable.handle, variable.dtype)
    return tf.convert_to_tensor(variable)


def _rows(value) -> int | None:
    shape = getattr(value, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) >= 1 and shape[0] is not None else None


@dataclass
class PendingStep:
    """A step whose record waits for its update (read at the next gradient call)."""

    step: int
    weights: list  # before its update
    full: bool  # every statistic, or only the light ones (pacing.py)
    inputs: dict  # what measure_step reads
    scalars: dict = field(default_factory=dict)  # the light part, measured at the step


class Watch:
    """The state of one watched script (there is one per child process)."""

    def __init__(self, spec: WatchSpec, channel: Channel, namespace_of=dict):
        self.spec = spec
        self.channel = channel
        self.fixes = frozenset(spec.fixes)
        self.namespace_of = namespace_of  # the script's globals, for naming its variables
        self.main_thread = threading.get_ident()
        self.created: dict[int, int] = {}  # id(variable) -> creation order
        self.created_vars: list = []
        self.step = 0  # steps done
        self.layout: Layout | None = None
        self.tape = None  # the eager tape being recorded
        self.recording = False
        self.activations: list[tuple[str, tf.Tensor, tf.Tensor]] = []
        self.first_input = None
        self.loss_inputs = None  # (labels, fed, sparse)
        self.pending: PendingStep | None = None  # the last step, recorded once its update is seen
        self.pacer = StatsPacer()
        self.nonfinite_seen = False  # the first step with a non-finite value gets the full statistics
        self.clean_batch = None  # the float tensors of the last tf.data element
        self.last_iterator = None
        self.training_iterators: set[int] = set()
        self.stopping = False
        self.test_labels: np.ndarray | None = None
        self.normalizer: tuple[float, float] | None = None
        self.initialised = False
        self.sent_config = False
        self.notices: set[str] = set()
        self.fix_seen: set[str] = set()  # fixes that found something to change
        self._source_order: list = []
        self.scaled_optimizers: set[int] = set()
        self.in_fit = False  # Keras fit's own tape is not a step of the script's loop
        # Snapshots (histograms, images) are computed and sent on a recorder thread while the
        # script goes on. Step records are not: in place, a compiled call on a second thread
        # cost twice its time on the main one (GIL and thread-pool hand-offs, 2 cores).
        self.jobs: queue.Queue = queue.Queue(maxsize=JOB_BACKLOG)
        threading.Thread(target=self._record, name="tblab-recorder", daemon=True).start()

    # --- messages --------------------------------------------------------------------
    def notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.add(text)
            self.channel.send("notice", text=text)

    def _eager_main(self) -> bool:
        return tf.executing_eagerly() and threading.get_ident() == self.main_thread

    # --- variables -----------------------------------------------------------------------
    def creator(self, next_creator, **kwargs):
        var = next_creator(**kwargs)
        if id(var) not in self.created:
            self.created[id(var)] = len(self.created)
            self.created_vars.append(var)
        return var

    def _reinitialise(self) -> None:
        """The init fix: He/Glorot kernels and zero biases, before the first update."""
        rng = np.random.default_rng(self.spec.seed)
        changed = 0
        for var in self.created_vars:
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

    # --- the tape --------------------------------------------------------------------------
    def tape_entered(self, tape) -> None:
        if self.tape is not None or self.in_fit or not self._eager_main():
            return
        self._release_pending_if_stopping()
        if "init" in self.fixes and not self.initialised:
            self.initialised = True
            self._reinitialise()
        self.tape = tape
        self.recording = True
        self.activations, self.first_input, self.loss_inputs = [], None, None

    def tape_exited(self, tape) -> None:
        if tape is self.tape:
            self.recording = False

    def owns(self, tape) -> bool:
        return tape is self.tape

    def gradient(self, tape, target, sources, grads):
        """One training step: record it, apply the gradient-scale fixes, hand back the gradients."""
        self.tape = None
        self.recording = False
        if self.stopping:
            self.finish_pending()
            raise WatchStop("steps")
        flat_sources = tf.nest.flatten(sources)
        flat_grads = tf.nest.flatten(grads)
        pairs = [(s, g) for s, g in zip(flat_sources, flat_grads) if hasattr(s, "shape")]
        if not pairs:
            return grads
        variables = [s for s, _ in pairs]
        if self.layout is None or [id(v) for v in variables] != [id(v) for v in self._source_order]:
            self._source_order = variables
            self.layout = make_layout(variables, self.created)
            self._announce_layout()
        layout = self.layout
        by_id = {id(s): g for s, g in pairs}
        ordered_grads = [by_id[id(v)] if by_id[id(v)] is not None else tf.zeros_like(v) for v in layout.variables]
        weights = [_read(v) for v in layout.variables]  # before this step's update
        previous, self.pending = self.pending, None
        hidden = layout.hidden_layers
        acts = [a for a in self.activations if a[0] in RECORDED][: len(hidden)]
        labels, fed, sparse = self.loss_inputs or (None, None, True)
        x = self.first_input
        if not self.sent_config:
            self._send_config(acts, x, labels)
        current = PendingStep(self.step, weights, self.pacer.is_full(self.step, time.perf_counter()), {
            "loss": target, "x": x, "grads": ordered_grads, "names": layout.names, "layers": hidden[: len(acts)],
            "activations": acts, "labels": labels, "fed": fed, "sparse_labels": sparse,
        })
        self._run(self._record_step, previous, current)
        self.pending = current
        if self.step % self.spec.histogram_every == 0:
            self._submit(self.send_snapshot, self.step, ordered_grads, weights, layout, acts, x)
        self.step += 1
        if self.spec.steps is not None and self.step >= self.spec.steps:
            self.stopping = True  # the training iterator ends; another gradient call stops the script
        factor = self.spec.lr_factor
        if factor != 1.0 and self.spec.lr_target == "gradients":
            grads = tf.nest.map_structure(lambda g: None if g is None else g * factor, grads)
        return grads

    def _announce_layout(self) -> None:
        names = script_names(self.layout.variables, self.namespace_of())
        mapping = {
            tag: names.get(id(v)) or getattr(v, "path", None) or getattr(v, "name", "?")  # Keras variables have a path
            for tag, v in zip(self.layout.names, self.layout.variables)
        }
        self.channel.send("start", style="custom loop", names=mapping)

    def _send_config(self, acts, x, labels) -> None:
        """What the doctor's rules read from a config: the hidden activation and the batch size."""
        self.sent_config = True
        config = {}
        if acts:
            config["activation"] = acts[0][0]
        rows = _rows(x) if x is not None else _rows(labels) if labels is not None else None
        if rows:
            config["batch_size"] = rows
        self.channel.send("config", config=config)

    # --- step records (on the main thread) and snapshots (on the recorder thread) -------------
    def _submit(self, job, *args) -> None:
        self.jobs.put((job, args))  # blocks when the recorder is JOB_BACKLOG behind: no unbounded memory

    def _record(self) -> None:
        while True:
            job, args = self.jobs.get()
            try:
                self._run(job, *args)
            finally:
                self.jobs.task_done()

    def _run(self, job, *args) -> None:
        try:
            job(*args)
        except OSError:  # the parent is gone: end the script the clean way
            os.kill(os.getpid(), signal.SIGTERM)
        except Exception as error:  # a step that cannot be measured must not stop the recording
            self.notice(f"could not record a step: {type(error).__name__}: {error}")

    def drain(self) -> None:
        """Wait until every submitted record has been sent."""
        self.jobs.join()

    def _record_step(self, previous: PendingStep | None, current: PendingStep) -> None:
        """This step's light part (loss, non-finite count), and the previous step's record,
        now that its update can be read (the weights before this step)."""
        current.scalars = light_statistics(**current.inputs)
        if current.scalars[NONFINITE_COUNT] and not self.nonfinite_seen:
            self.nonfinite_seen = current.full = True  # the first step with a non-finite value, in full
        if previous is not None:
            self._send_step(previous, current.weights)
        if not current.full:
            # Held to the next step, a read of a variable would make the script's update copy
            # the variable (TensorFlow updates in place only a buffer nothing else holds).
            current.weights = None

    def _send_step(self, pending: PendingStep, weights_after) -> None:
        """A step's record: its light part and non-finite weights; for a full step, with the
        rest of its statistics and its update (weights after against before) in one compiled call."""
        scalars = dict(pending.scalars)
        if pending.full:
            start, traces = time.perf_counter(), stats_traces()
            measures = measure_step(**pending.inputs, weights=weights_after, previous=pending.weights)
            if stats_traces() == traces:  # a call that traced a new shape is no measure of the pace
                self.pacer.measured(time.perf_counter() - start)
            scalars.update(measures.step)
            scalars.update(measures.update)
            nonfinite_weights = measures.nonfinite_weights
        else:
            nonfinite_weights = count_nonfinite_values(weights_after)
        scalars[NONFINITE_COUNT] += nonfinite_weights
        self.channel.send("step", step=pending.step, scalars=scalars)

    def finish_pending(self) -> None:
        """Send the last step's record, its update read from the variables as they are now."""
        if self.pending is not None and self.layout is not None:
            pending, self.pending = self.pending, None
            self._run(self._send_step, pending, [_read(v) for v in self.layout.variables])

    def _release_pending_if_stopping(self) -> None:
        if self.stopping:
            self.finish_pending()
            raise WatchStop("steps")

    def send_snapshot(self, step: int, grads, weights, layout: Layout, activations, x) -> None:
        """Histograms of weights, gradients and hidden activations, and the first inputs
        (every image_every steps), as one message: tblab's Snapshot."""
        tensors, tags = [], []
        for name, weight, grad in zip(layout.names, weights, grads):
            tensors += [weight, grad]
            tags += [layer_tag(WEIGHTS, name), layer_tag(GRADIENTS, name)]
        for layer, (_, _, h) in zip(layout.hidden_layers, activations):
            tensors.append(h)
            tags.append(layer_tag(ACTIVATIONS, layer))
        buckets, dropped = histogram_buckets_numpy([np.asarray(t) for t in tensors])
        message = {"step": step, "tags": tags, "buckets": buckets.tolist(), "dropped": dropped}
        if x is not None and step % self.spec.image_every == 0:
            images = np.asarray(x[:IMAGES_SHOWN], np.float32).reshape(min(IMAGES_SHOWN, _rows(x)), -1)
            if images.shape[1] == INPUT_DIM:
                message["images"] = {"shape": [len(images), IMAGE_SIDE, IMAGE_SIDE], "pixels": pack_array(images)}
        self.channel.send("snapshot", **message)

    # --- inside the forward pass -----------------------------------------------------------
    def activation(self, kind: str, original, args, kwargs):
        if kind in SATURATING and "activation" in self.fixes:
            self.fix_seen.add("activation")
            features = args[0] if args else kwargs.get("x", kwargs.get("features"))
            z = features
            h = ORIGINAL_RELU(features)
            kind = "relu"
        else:
            h = original(*args, **kwargs)
            z = args[0] if args else kwargs.get("features", kwargs.get("x"))
        if self.recording and self._eager_main():
            self.activations.append((kind, z, h))
        return h

    def layer_input(self, x, kernel):
        """The first layer's input: recorded, and changed by the no_noise / normalize fixes."""
        first = self.layout.first_kernel if self.layout is not None else None
        in_tape = self.recording and self._eager_main()
        is_first = kernel is first if first is not None else (in_tape and self.first_input is None)
        if not is_first:
            return x
        if in_tape and "no_noise" in self.fixes:
            x = self._clean(x)
        if "normalize" in self.fixes:
            x = self._normalize(x)
        if in_tape:
            self.first_input = x
        return x

    def _clean(self, x):
        clean = self.clean_batch
        size = int(np.prod(x.shape))
        for candidate in clean or ():
            if int(np.prod(candidate.shape)) == size:
                candidate = tf.reshape(tf.cast(candidate, x.dtype), x.shape)
                if not bool(tf.reduce_all(tf.equal(candidate, x))):
                    self.fix_seen.add("no_noise")
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
        self.fix_seen.add("normalize")
        return (x - tf.cast(mean, x.dtype)) / tf.cast(std, x.dtype)

    def after_matmul(self, kernel, out):
        """Outside the tape, the output layer's matmul on the whole test set is the script
        evaluating: its accuracy and loss are recorded as the run's test values."""
        layout = self.layout
        if layout is None or kernel is not layout.output_kernel or self.recording or self.test_labels is None:
            return
        if _rows(out) != len(self.test_labels) or not self._eager_main():
            return
        self.finish_pending()  # the weights are the step's result now
        logits = out + layout.output_bias if layout.output_bias is not None else out
        logits = tf.cast(logits, tf.float32)
        labels = tf.constant(self.test_labels.astype(np.int32))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, labels), tf.float32))
        self.channel.send("eval", step=max(self.step - 1, 0), scalars={LOSS: float(loss), ACCURACY: float(accuracy)})

    def loss_called(self, labels, logits, sparse: bool):
        """What a softmax cross-entropy was handed; with the logits fix, probabilities become
        their logarithm (exact: softmax(log p) = p)."""
        if "logits" in self.fixes:
            logits = tf.convert_to_tensor(logits)
            if tf.executing_eagerly():
                if bool(are_probabilities(logits)):
                    self.fix_seen.add("logits")
                    logits = tf.math.log(tf.maximum(logits, PROBABILITY_FLOOR))
            else:
                logits = tf.where(are_probabilities(logits), tf.math.log(tf.maximum(logits, PROBABILITY_FLOOR)), logits)
        if self.recording and self._eager_main():
            self.loss_inputs = (labels, logits, sparse)
        return logits

    # --- the data pipeline ----------------------------------------------------------------
    def element(self, iterator, element) -> None:
        if self._eager_main():
            self.last_iterator = iterator
            self.clean_batch = [t for t in tf.nest.flatten(element) if getattr(t, "dtype", None) is not None and t.dtype.is_floating]

    def next_allowed(self, iterator) -> bool:
        """False once --steps is reached, for the iterator that fed training: its loop ends."""
        if self.stopping and id(iterator) in self.training_iterators:
            self.finish_pending()
            return False
        return True

    def mark_training_iterator(self) -> None:
        if self.last_iterator is not None:
            self.training_iterators.add(id(self.last_iterator))


def install(watch: Watch) -> None:
    """Patch TensorFlow for this process: the tape, activations, matmul, losses, tf.data."""

    class WatchedTape(backprop.GradientTape):
        def __enter__(self):
            tape = super().__enter__()
            watch.tape_entered(self)
            return tape

        def __exit__(self, *exc):
            watch.tape_exited(self)
            return super().__exit__(*exc)

        def gradient(self, target, sources, *args, **kwargs):
            owned = watch.owns(self)
            if owned:
                watch.mark_training_iterator()
            grads = super().gradient(target, sources, *args, **kwargs)
            return watch.gradient(self, target, sources, grads) if owned else grads

    tf.GradientTape = WatchedTape
    tf.autodiff.GradientTape = WatchedTape

    def activation_hook(kind, original):
        @functools.wraps(original)
        def hooked(*args, **kwargs):
            return watch.activation(kind, original, args, kwargs)

        return hooked

    hooked_modules = {"relu": (tf.nn,), "leaky_relu": (tf.nn,), "sigmoid": (tf, tf.nn, tf.math), "tanh": (tf, tf.nn, tf.math)}
    assert set(hooked_modules) == set(RECORDED), "every recorded activation family is hooked"
    for kind, modules in hooked_modules.items():
        original = getattr(tf.nn, kind)
        hooked = activation_hook(kind, original)
        for module in modules:
            setattr(module, kind, hooked)

    def matmul_hook(original):
        @functools.wraps(original)
        def hooked(a, b, *args, **kwargs):
            if _is_variable(b):
                a = watch.layer_input(a, b)
                out = original(a, b, *args, **kwargs)
                watch.after_matmul(b, out)
                return out
            return original(a, b, *args, **kwargs)

        return hooked

    tf.matmul = tf.linalg.matmul = matmul_hook(tf.matmul)
    tensor_lib.Tensor.__matmul__ = matmul_hook(tensor_lib.Tensor.__matmul__)

    def loss_hook(original, sparse):
        @functools.wraps(original)
        def hooked(labels=None, logits=None, **kwargs):
            logits = watch.loss_called(labels, logits, sparse)
            return original(labels=labels, logits=logits, **kwargs)

        return hooked

    tf.nn.sparse_softmax_cross_entropy_with_logits = loss_hook(tf.nn.sparse_softmax_cross_entropy_with_logits, True)
    tf.nn.softmax_cross_entropy_with_logits = loss_hook(tf.nn.softmax_cross_entropy_with_logits, False)

    original_next = iterator_ops.OwnedIterator.__next__

    def next_hook(self):
        if not watch.next_allowed(self):
            raise StopIteration
        element = original_next(self)
        watch.element(self, element)
        return element

    iterator_ops.OwnedIterator.__next__ = next_hook

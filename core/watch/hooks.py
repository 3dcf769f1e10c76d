"""Run-time hooks for a user's custom training loop (eager TensorFlow 2).

One training step is one tf.GradientTape.gradient call. Inside the tape, hooked
tf.nn.relu / leaky_relu / sigmoid / tanh calls give each hidden layer's activations, the
first matmul with a variable gives the first layer's input batch, and the hooked softmax
cross-entropy gives the labels and what the loss was handed. The gradient call gives the
loss (the tape's target), the variables and their gradients.

`Watch` is the state of one watched script, made of three parts with small APIs of their
own: the variable registry (core/watch/variables.py), the fix patches (patches.py) and
the tape and step recorder (recorder.py); `install` patches TensorFlow to call it.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager

import numpy as np
import tensorflow as tf
from tensorflow.python.data.ops import iterator_ops
from tensorflow.python.eager import backprop
from tensorflow.python.framework import tensor as tensor_lib

from core.schema.tags import ACCURACY, LOSS
from core.schema.units import RECORDED
from core.watch.patches import FixPatches
from core.watch.protocol import Channel
from core.watch.recorder import StepRecorder, rows
from core.watch.spec import WatchSpec, WatchStop
from core.watch.variables import VariableRegistry


class Watch:
    """The state of one watched script (there is one per child process)."""

    def __init__(self, spec: WatchSpec, channel: Channel, namespace_of=dict):
        self.spec = spec
        self.channel = channel
        self.namespace_of = namespace_of  # the script's globals, for naming its variables
        self.main_thread = threading.get_ident()
        self.notices: set[str] = set()
        self.variables = VariableRegistry()
        self.patches = FixPatches(spec, self.notice)
        self.recorder = StepRecorder(spec, channel, self.notice)
        self.step = 0  # steps done
        self.other_model_steps = 0  # of them, steps that trained another model (counted, not recorded)
        self.stopping = False
        self.in_fit = False  # Keras fit's own tape is not a step of the script's loop
        self.test_labels: np.ndarray | None = None
        self.sent_config = False
        self.last_iterator = None
        self.training_iterators: set[int] = set()

    # --- messages and the run's progress ---------------------------------------------------------
    def notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.add(text)
            self.channel.send("notice", text=text)

    def announce(self, style: str, namespace: dict) -> None:
        """How the script trains, its variables' names (tag name -> the script's) and its
        layers as the tags name them, input side first (the last is the output layer)."""
        layout = self.variables.layout
        self.channel.send("start", style=style, names=self.variables.names(namespace), layers=list(layout.layers))

    def send_config(self, config: dict) -> None:
        """What the doctor's rules read from a config: the hidden activation and the batch size."""
        self.sent_config = True
        self.channel.send("config", config=config)

    def send_eval(self, scalars: dict[str, float]) -> None:
        """A test-set evaluation, after the last step done."""
        self.channel.send("eval", step=max(self.step - 1, 0), scalars=scalars)

    def step_done(self) -> None:
        """One more training step; at --steps, the run stops."""
        self.step += 1
        if self.spec.steps is not None and self.step >= self.spec.steps:
            self.stopping = True  # the training iterator ends; another gradient call stops the script

    @contextmanager
    def fitting(self):
        """While Keras fit runs: its own tape is not a step of the script's loop."""
        self.in_fit = True
        try:
            yield
        finally:
            self.in_fit = False

    def _eager_main(self) -> bool:
        """Eager, on the script's training thread: its main thread, or a tf.distribute
        strategy's first replica (MirroredStrategy runs each replica on a thread of its own)."""
        return tf.executing_eagerly() and (threading.get_ident() == self.main_thread or _first_replica())

    def _in_tape(self) -> bool:
        if not self.recorder.recording:
            return False
        if self.recorder.tracing:  # Keras fit's compiled probe pass (keras_fit.py), traced on this thread
            return threading.get_ident() == self.main_thread
        return self._eager_main()

    # --- the tape --------------------------------------------------------------------------
    def tape_entered(self, tape) -> None:
        if self.recorder.tape is not None or self.in_fit or not self._eager_main():
            return
        self._release_pending_if_stopping()
        self.patches.reinitialise_once(self.variables.created)
        self.recorder.begin(tape)

    def tape_exited(self, tape) -> None:
        self.recorder.end(tape)

    def owns(self, tape) -> bool:
        return self.recorder.owns(tape)

    def gradient(self, tape, target, sources, grads):
        """One training step: record it, apply the gradient-scale fixes, hand back the gradients."""
        self.recorder.release()
        self._release_pending_if_stopping()
        pairs = [(s, g) for s, g in zip(tf.nest.flatten(sources), tf.nest.flatten(grads)) if hasattr(s, "shape")]
        if not pairs:
            return grads
        if not self.variables.is_recorded_model([s for s, _ in pairs]):
            self.other_model_step(len(pairs))
            return self.patches.scale_gradients(grads)
        namespace = self.namespace_of() if self.variables.layout is None else {}  # once: it walks the stack
        layout, new = self.variables.layout_for([s for s, _ in pairs], namespace)
        if new:
            self.announce("custom loop", namespace)
        by_id = {id(s): g for s, g in pairs}
        ordered_grads = [by_id[id(v)] if by_id[id(v)] is not None else tf.zeros_like(v) for v in layout.variables]
        weights = self.variables.read_all()  # before this step's update
        capture = self.recorder.capture
        acts = capture.hidden(layout)
        labels, fed, sparse = capture.loss_inputs or (None, None, True)
        x = capture.first_input
        if not self.sent_config:
            self.send_config(_loop_config(acts, x, labels))
        self.recorder.step(self.step, layout, {
            "loss": target, "x": x, "grads": ordered_grads, "names": layout.names, "layers": layout.hidden_layers[: len(acts)],
            "activations": acts, "labels": labels, "fed": fed, "sparse_labels": sparse,
        }, weights)
        if self.step % self.spec.histogram_every == 0:
            self.recorder.submit_snapshot(self.step, ordered_grads, weights, layout, acts, x)
        self.step_done()
        return self.patches.scale_gradients(grads)

    def other_model_step(self, variables: int) -> None:
        """A training step of another model than the recorded one: counted, not recorded."""
        layers = ", ".join(self.variables.layout.layers) if self.variables.layout is not None else "its first"
        self.notice(f"the script trains more than one model: tblab records the first ({layers}); steps that "
                    f"train other variables ({variables} here) are counted as unrecorded")
        self.recorder.unrecorded += 1
        self.other_model_steps += 1
        self.step_done()

    def finish_pending(self) -> None:
        """Send the last step's record, its update read from the variables as they are now."""
        if self.variables.layout is not None:
            self.recorder.finish_pending(self.variables.read_all)

    def drain(self) -> None:
        self.recorder.drain()

    def _release_pending_if_stopping(self) -> None:
        if self.stopping:
            self.finish_pending()
            raise WatchStop("steps")

    # --- inside the forward pass -----------------------------------------------------------
    def activation(self, kind: str, original, args, kwargs):
        kind, z, h = self.patches.activation(kind, original, args, kwargs)
        if self._in_tape():
            self.recorder.capture.activations.append((kind, z, h))
        return h

    def layer_input(self, x, kernel):
        """The first layer's input: recorded, and changed by the no_noise / normalize fixes."""
        layout = self.variables.layout
        first = layout.first_kernel if layout is not None else None
        in_tape = self._in_tape()
        is_first = kernel is first if first is not None else (in_tape and self.recorder.capture.first_input is None)
        if not is_first:
            return x
        x = self.patches.first_layer_input(x, in_tape)
        if in_tape:
            self.recorder.capture.first_input = x
        return x

    def after_matmul(self, kernel, out):
        """Outside the tape, the output layer's matmul on the whole test set is the script
        evaluating: its accuracy and loss are recorded as the run's test values."""
        layout = self.variables.layout
        if layout is None or kernel is not layout.output_kernel or self.recorder.recording or self.test_labels is None:
            return
        if rows(out) != len(self.test_labels) or not self._eager_main():
            return
        self.finish_pending()  # the weights are the step's result now
        logits = out + layout.output_bias if layout.output_bias is not None else out
        logits = tf.cast(logits, tf.float32)
        labels = tf.constant(self.test_labels.astype(np.int32))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, labels), tf.float32))
        self.send_eval({LOSS: float(loss), ACCURACY: float(accuracy)})

    def loss_called(self, labels, logits, sparse: bool):
        """What a softmax cross-entropy was handed (the logits fix may change it)."""
        logits = self.patches.loss_logits(logits)
        if self._in_tape():
            self.recorder.capture.loss_inputs = (labels, logits, sparse)
        return logits

    # --- the data pipeline ----------------------------------------------------------------
    def element(self, iterator, element) -> None:
        if self._eager_main():
            self.last_iterator = iterator
            self.patches.remember_clean_batch(element)

    def next_allowed(self, iterator) -> bool:
        """False once --steps is reached, for the iterator that fed training: its loop ends."""
        if self.stopping and id(iterator) in self.training_iterators:
            self.finish_pending()
            return False
        return True

    def mark_training_iterator(self) -> None:
        if self.last_iterator is not None:
            self.training_iterators.add(id(self.last_iterator))


def _first_replica() -> bool:
    """Inside strategy.run, on the first replica; False outside any strategy (a Keras or
    tf.data thread is in the default replica context, also numbered 0)."""
    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return False
    context = tf.distribute.get_replica_context()
    return context is not None and tf.get_static_value(context.replica_id_in_sync_group) == 0


def _loop_config(acts, x, labels) -> dict:
    """A custom loop's config for the doctor: its first hidden activation, its batch size."""
    config = {}
    if acts:
        config["activation"] = acts[0][0]
    batch = rows(x) if x is not None else rows(labels) if labels is not None else None
    if batch:
        config["batch_size"] = batch
    return config


class WatchedTape(backprop.GradientTape):
    """tf.GradientTape in a watched script: its gradient call is one training step."""

    watch: Watch  # set by install

    def __enter__(self):
        tape = super().__enter__()
        self.watch.tape_entered(self)
        return tape

    def __exit__(self, *exc):
        self.watch.tape_exited(self)
        return super().__exit__(*exc)

    def gradient(self, target, sources, *args, **kwargs):
        owned = self.watch.owns(self)
        if owned:
            self.watch.mark_training_iterator()
        grads = super().gradient(target, sources, *args, **kwargs)
        return self.watch.gradient(self, target, sources, grads) if owned else grads


# The modules each hooked activation is reached through (tf.sigmoid is tf.nn.sigmoid's twin).
ACTIVATION_MODULES = {"relu": (tf.nn,), "leaky_relu": (tf.nn,), "sigmoid": (tf, tf.nn, tf.math), "tanh": (tf, tf.nn, tf.math)}
assert set(ACTIVATION_MODULES) == set(RECORDED), "every recorded activation family is hooked"


def _activation_hook(watch: Watch, kind: str, original):
    @functools.wraps(original)
    def hooked(*args, **kwargs):
        return watch.activation(kind, original, args, kwargs)

    return hooked


def _matmul_hook(watch: Watch, original):
    @functools.wraps(original)
    def hooked(a, b, *args, **kwargs):
        if isinstance(b, tf.Variable):
            a = watch.layer_input(a, b)
            out = original(a, b, *args, **kwargs)
            watch.after_matmul(b, out)
            return out
        return original(a, b, *args, **kwargs)

    return hooked


def _loss_hook(watch: Watch, original, sparse: bool):
    @functools.wraps(original)
    def hooked(labels=None, logits=None, **kwargs):
        logits = watch.loss_called(labels, logits, sparse)
        return original(labels=labels, logits=logits, **kwargs)

    return hooked


def _next_hook(watch: Watch, original_next):
    def next_hook(self):
        if not watch.next_allowed(self):
            raise StopIteration
        element = original_next(self)
        watch.element(self, element)
        return element

    return next_hook


def install(watch: Watch) -> None:
    """Patch TensorFlow for this process: the tape, activations, matmul, losses, tf.data."""
    WatchedTape.watch = watch
    tf.GradientTape = tf.autodiff.GradientTape = WatchedTape
    for kind, modules in ACTIVATION_MODULES.items():
        hooked = _activation_hook(watch, kind, getattr(tf.nn, kind))
        for module in modules:
            setattr(module, kind, hooked)
    tf.matmul = tf.linalg.matmul = _matmul_hook(watch, tf.matmul)
    tensor_lib.Tensor.__matmul__ = _matmul_hook(watch, tensor_lib.Tensor.__matmul__)
    tf.nn.sparse_softmax_cross_entropy_with_logits = _loss_hook(watch, tf.nn.sparse_softmax_cross_entropy_with_logits, True)
    tf.nn.softmax_cross_entropy_with_logits = _loss_hook(watch, tf.nn.softmax_cross_entropy_with_logits, False)
    iterator_ops.OwnedIterator.__next__ = _next_hook(watch, iterator_ops.OwnedIterator.__next__)

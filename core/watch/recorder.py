"""The tape and step recorder of a watched script: what a training step's tape saw (hidden
activations, the first layer's input, what the loss was handed), and the step records and
snapshots sent to the parent.

Weights are read at every gradient call, so the update a step made is seen at the next one
(weights before and after), whatever wrote it: a step's record waits for it (PendingStep).
Step records are measured on the main thread; snapshots (histograms, images) on a recorder
thread while the script goes on: in place, a compiled call on a second thread cost twice
its time on the main one (GIL and thread-pool hand-offs, 2 cores).
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from core.schema.tags import (
    ACTIVATIONS, GRADIENTS, IMAGE_SIDE, IMAGES_SHOWN, INPUT_DIM, NONFINITE_COUNT, WEIGHT_NORM, WEIGHTS, layer_tag,
)
from core.schema.units import RECORDED
from core.watch.histograms import histogram_buckets_numpy
from core.watch.layout import Layout
from core.watch.pacing import StatsPacer, forced_every
from core.watch.protocol import Channel, pack_array
from core.watch.spec import WatchSpec
from core.watch.stats import light_statistics, measure_step, norms_and_nonfinite, stats_traces

JOB_BACKLOG = 16


def rows(value) -> int | None:
    """The first size of a tensor or array (its batch), None when it has none."""
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


@dataclass
class TapeCapture:
    """What one training step's forward pass was seen doing."""

    activations: list = field(default_factory=list)  # (kind, pre, post) per hooked activation call
    first_input: object = None
    loss_inputs: tuple | None = None  # (labels, what the loss was handed, sparse labels?)

    def hidden(self, layout: Layout) -> list:
        """The recorded families' activations, one per hidden layer of the layout at most."""
        return [a for a in self.activations if a[0] in RECORDED][: len(layout.hidden_layers)]


class StepRecorder:
    """Records one watched script's steps and snapshots onto its channel."""

    def __init__(self, spec: WatchSpec, channel: Channel, notice: Callable[[str], None]) -> None:
        self.spec, self.channel, self.notice = spec, channel, notice
        self.tape = None  # the eager tape being recorded
        self.recording = False
        self.tracing = False  # a probe's tf.function is being traced (probe)
        self.capture = TapeCapture()
        self.pending: PendingStep | None = None  # the last step, recorded once its update is seen
        self.pacer = StatsPacer(forced=forced_every())
        self.nonfinite_seen = False  # the first step with a non-finite value gets the full statistics
        self.unrecorded = 0  # steps whose record could not be made (sent with the end)
        self.failures = 0  # of any recording job (steps and snapshots): only the first is shown
        self.jobs: queue.Queue = queue.Queue(maxsize=JOB_BACKLOG)
        threading.Thread(target=self._record, name="tblab-recorder", daemon=True).start()

    # --- the tape --------------------------------------------------------------------------------
    def begin(self, tape) -> None:
        self.tape, self.recording, self.capture = tape, True, TapeCapture()

    def end(self, tape) -> None:
        if tape is self.tape:
            self.recording = False

    def owns(self, tape) -> bool:
        return tape is self.tape

    def release(self) -> None:
        """The gradient call: the tape's step is taken."""
        self.tape, self.recording = None, False

    @contextmanager
    def probe(self, x, traced: bool = False):
        """Record one forward pass outside the script's own steps (Keras fit's probe batch);
        `traced`: while a tf.function is traced, its symbolic tensors are what is recorded."""
        self.recording, self.tracing, self.capture = True, traced, TapeCapture(first_input=x)
        try:
            yield self.capture
        finally:
            self.recording = self.tracing = False

    # --- steps ----------------------------------------------------------------------------------
    def step(self, step: int, layout: Layout, inputs: dict, weights: list) -> None:
        """Record this step's light part and send the previous step's record, whose update
        `weights` (before this step) show."""
        current = PendingStep(step, weights, self.pacer.is_full(step, time.perf_counter()), inputs)
        previous, self.pending = self.pending, None
        self.run(self._record_step, previous, current)
        self.pending = current

    def _record_step(self, previous: PendingStep | None, current: PendingStep) -> None:
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
        """A step's record: its light part, weight norms and non-finite weights; for a full step, with the
        rest of its statistics and its update (weights after against before) in one compiled call."""
        scalars = dict(pending.scalars)
        if pending.full:
            start, traces = time.perf_counter(), stats_traces()
            measures = measure_step(**pending.inputs, weights=weights_after, previous=pending.weights, light=pending.scalars)
            if stats_traces() == traces:  # a call that traced a new shape is no measure of the pace
                self.pacer.measured(time.perf_counter() - start)
            scalars.update(measures.step)
            scalars.update(measures.update)
            nonfinite_weights = measures.nonfinite_weights
        else:  # the weight norms at every step, from the same pass as the non-finite count (free)
            norms, nonfinite_weights = norms_and_nonfinite(weights_after)
            scalars.update(zip((layer_tag(WEIGHT_NORM, name) for name in pending.inputs["names"]), norms))
        scalars[NONFINITE_COUNT] += nonfinite_weights
        self.send_step(pending.step, scalars)

    def send_step(self, step: int, scalars: dict[str, float]) -> None:
        self.channel.send("step", step=step, scalars=scalars)

    def finish_pending(self, weights_now: Callable[[], list]) -> None:
        """Send the last step's record, its update read from the variables as they are now."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.run(self._send_step, pending, weights_now())

    # --- snapshots, on the recorder thread --------------------------------------------------------
    def submit_snapshot(self, *args) -> None:
        self.jobs.put((self.send_snapshot, args))  # blocks when the recorder is JOB_BACKLOG behind: no unbounded memory

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
            images = np.asarray(x[:IMAGES_SHOWN], np.float32).reshape(min(IMAGES_SHOWN, rows(x)), -1)
            if images.shape[1] == INPUT_DIM:
                message["images"] = {"shape": [len(images), IMAGE_SIDE, IMAGE_SIDE], "pixels": pack_array(images)}
        self.channel.send("snapshot", **message)

    def _record(self) -> None:
        while True:
            job, args = self.jobs.get()
            try:
                self.run(job, *args)
            finally:
                self.jobs.task_done()

    def run(self, job, *args) -> None:
        try:
            job(*args)
        except OSError:  # the parent is gone: end the script the clean way
            os.kill(os.getpid(), signal.SIGTERM)
        except Exception as error:  # a step that cannot be measured must not stop the recording
            self.failures += 1
            if job != self.send_snapshot:
                self.unrecorded += 1  # counted, and reported at the end: never a silent loss
            if self.failures == 1:
                first_line = (str(error).strip().splitlines() or [""])[0]
                self.notice(f"could not record a step: {type(error).__name__}: {first_line} (later failures are counted)")

    def drain(self) -> None:
        """Wait until every submitted record has been sent."""
        self.jobs.join()

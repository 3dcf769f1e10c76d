"""The lab's training worker: runs a scenario in a thread and reports by posting messages.

`run_training` is the body of the app's thread worker. It never touches the UI:
everything goes through `post` (the app's thread-safe post_message). The RecordBatcher is
the lab's sink of the run event stream (core/schema/events.py), for scenarios and
watched scripts alike: step records are batched, one message per BATCH_SECONDS: at
hundreds of steps a second a message per step would keep the UI thread dispatching, and
the training thread waiting for the GIL.
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.schema.config import RunConfig
from core.schema.events import Ended, Eval, RunStarted, Step
from core.schema.history import Snapshot, StepRecord
from tui.messages import RunEnded, RunPhase, StepBatch

BATCH_SECONDS = 0.1

Post = Callable[[object], object]


@dataclass(frozen=True)
class RunSpec:
    """One run the lab asked for."""

    run_id: int
    scenario: str  # the scenario's name, used for the log folder
    config: RunConfig
    fixes: tuple[str, ...]
    logdir: Path
    script: Path | None = None  # a plain training script to watch instead of a scenario to train
    steps: int | None = None  # the lab's --steps (a watched script stops there)


class DataCache:
    """MNIST loaded once (on a worker thread) and shared by every run of the session."""

    def __init__(self, path: str | None = None, data=None) -> None:
        self.path = path
        self._data = data  # a core.data.mnist.Mnist given up front (tests, benchmarks) is used as is
        self.given = data  # kept apart: experiments hand given data to their workers, else they load path
        self._lock = threading.Lock()

    def get(self):
        from core.data.mnist import load_mnist

        with self._lock:
            if self._data is None:
                self._data = load_mnist(self.path)
            return self._data


class RecordBatcher:
    """Collects what a run produces and posts it as one StepBatch per interval; with a
    live doctor, its findings go out with the records they were found at."""

    def __init__(self, run_id: int, post: Post, doctor=None, interval: float = BATCH_SECONDS) -> None:
        from core.runs.sinks import DoctorSink

        self.run_id, self.post, self.interval = run_id, post, interval
        self.doctor = None if doctor is None else DoctorSink(doctor, lambda findings, _step: self.findings.extend(findings))
        self.records: list[StepRecord] = []
        self.evals: list[tuple[int, dict[str, float]]] = []
        self.images: tuple[int, np.ndarray] | None = None
        self.findings: list = []
        self.diagnosis = None  # the doctor's verdict, taken at the run's end
        self.last_post = -math.inf  # the first record goes out at once: the learner sees the run start

    def on_started(self, event: RunStarted) -> None:
        if self.doctor is not None:
            self.doctor.on_started(event)

    def on_step(self, event: Step) -> None:
        self.records.append(event.record)
        if self.doctor is not None:
            self.doctor.on_step(event)
        now = time.monotonic()
        if now - self.last_post >= self.interval:
            self.flush(now)

    def on_eval(self, event: Eval) -> None:
        self.evals.append((event.step, dict(event.scalars)))
        if self.doctor is not None:
            self.doctor.on_eval(event)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.images is not None:
            self.images = (snapshot.step, np.array(snapshot.images, dtype=np.float32))  # a copy: the UI reads it later

    def on_ended(self, event: Ended) -> None:
        """The doctor's last look at the whole run, then everything still buffered."""
        if self.doctor is not None:
            self.doctor.on_ended(event)
            self.diagnosis = self.doctor.doctor.diagnosis()  # the same verdict the headless commands print
        self.flush()

    def flush(self, now: float | None = None) -> None:
        if not (self.records or self.evals or self.images or self.findings or self.diagnosis):
            return
        now = time.monotonic() if now is None else now
        self.post(StepBatch(self.run_id, self.records, self.evals, self.images, self.findings, sent_at=now,
                            diagnosis=self.diagnosis))
        self.records, self.evals, self.images, self.findings, self.diagnosis = [], [], None, [], None
        self.last_post = now


def run_training(spec: RunSpec, post: Post, stop: threading.Event, data: DataCache) -> None:
    """Train spec.config to the end or until `stop` is set; every outcome ends in one RunEnded."""
    from core.doctor import LiveDoctor

    batcher = RecordBatcher(spec.run_id, post, LiveDoctor())
    try:
        post(RunPhase(spec.run_id, "loading", "importing TensorFlow"))
        import core.train.loop  # noqa: F401  (TensorFlow loads here, on this thread, never before the first frame)
        from core.runs.recipe import run_scenario
        from core.system.tfquiet import TRAINING_THREADS, import_tensorflow_quietly

        import_tensorflow_quietly(threads=TRAINING_THREADS)  # imported already: only caps its threads

        post(RunPhase(spec.run_id, "loading", "reading MNIST"))
        mnist = data.get()
        if stop.is_set():
            post(RunEnded(spec.run_id, "stopped", "stopped before the first step"))
            return
        post(RunPhase(spec.run_id, "loading", "building the model", logdir=str(spec.logdir), data_source=mnist.source))
        result = run_scenario(spec.config, data=mnist, logdir=spec.logdir, run_name=spec.scenario, sinks=[batcher], stop=stop)
    except Exception as error:  # a failed run is shown in the lab; the lab keeps working
        batcher.flush()
        detail = f"{type(error).__name__}: {error}".splitlines()[0]
        # Straight to file descriptor 2 (the lab's log file): sys.stderr belongs to Textual now.
        os.write(2, f"tblab: run {spec.run_id} ({spec.scenario}) failed\n{traceback.format_exc()}".encode())
        post(RunEnded(spec.run_id, "failed", detail))
        return
    post(RunEnded(
        spec.run_id, "stopped" if result.stopped else "finished",
        f"{result.steps_done} steps",
        test_accuracy=result.test_accuracy, steps_per_second=result.steps_per_second,
    ))

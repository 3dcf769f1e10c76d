"""LabRuns: the lab's training runs from launch to end, in one place.

At most one training thread runs at a time (TensorFlow on 2 cores gains nothing from
two). A run launched while one is going stops that one and waits its turn; a newer
launch replaces the waiting run. LabRuns owns each thread's stop and done Events and,
on quit, `close()` stops everything and lets no waiting run start. It is driven from the
UI thread only; the training thread sets nothing but its own done Event.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tui.run_worker import RunSpec

# Training runs at this niceness (per thread on Linux; TensorFlow's pool threads and a watched
# script's process, started from that thread, inherit it): on a loaded machine the UI thread
# is scheduled first, so keys are answered while training takes what is left.
TRAINING_NICENESS = 10
YIELD_SECONDS = 0.001  # after each message a run posts: the UI thread takes the GIL between blocks


def lower_thread_priority(niceness: int = TRAINING_NICENESS) -> bool:
    """Lower the calling thread's CPU priority (Linux); False where that is not possible."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: training just runs at normal priority
        return False
    return True


def yielding(post: Callable[[object], object]) -> Callable[[object], None]:
    """`post`, then a moment off the GIL: training posts one message per block of steps."""

    def post_and_yield(message: object) -> None:
        post(message)
        time.sleep(YIELD_SECONDS)

    return post_and_yield


# Starts `body` on a thread of its own (the app's thread worker), named for the worker list.
Spawn = Callable[[Callable[[], None], str], object]
# Trains a spec until the Event is set: the thread's body.
Train = Callable[[RunSpec, threading.Event], None]


@dataclass
class _Worker:
    """One training thread: asked to stop through `stop`, says it returned through `done`."""

    run_id: int
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Launched:
    """What launching a run did to the others."""

    replaced: int | None = None  # the waiting run it replaced, which will never start
    waits_for: int | None = None  # the run asked to stop, which this one waits for


@dataclass(frozen=True)
class Stopped:
    dropped: int | None = None  # a waiting run that will never start
    stopping: int | None = None  # the running one, asked to stop (it ends at its next step)


class LabRuns:
    def __init__(self, spawn: Spawn, train: Train) -> None:
        self._spawn = spawn
        self._train = train
        self._worker: _Worker | None = None
        self._waiting: RunSpec | None = None
        self._closed = threading.Event()

    @property
    def active_id(self) -> int | None:
        """The run whose thread has not returned."""
        return self._worker.run_id if self._worker else None

    @property
    def busy(self) -> bool:
        """A run is going or waiting: Stop makes sense."""
        return self._worker is not None or self._waiting is not None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def launch(self, spec: RunSpec) -> Launched:
        """Start `spec` now, or once the running one (asked to stop here) has returned."""
        if self.closed:
            raise RuntimeError("the lab is closing: no new runs")
        replaced = self._waiting.run_id if self._waiting else None
        self._waiting = None
        if self._worker is None:
            self._start(spec)
            return Launched(replaced)
        self._worker.stop.set()
        self._waiting = spec
        return Launched(replaced, self._worker.run_id)

    def stop(self) -> Stopped:
        """Stop the running run and drop the waiting one."""
        dropped = self._waiting.run_id if self._waiting else None
        self._waiting = None
        if self._worker is not None:
            self._worker.stop.set()
        return Stopped(dropped, self.active_id)

    def ended(self, run_id: int) -> RunSpec | None:
        """The thread of `run_id` reported its end: start the waiting run, if any (returned)."""
        if self._worker is None or self._worker.run_id != run_id:
            return None  # a late message from a run already replaced
        self._worker = None
        spec, self._waiting = self._waiting, None
        if spec is not None and not self.closed:
            self._start(spec)
            return spec
        return None

    def close(self) -> None:
        """Stop everything, for good: no waiting run starts after this. Safe to call more than once."""
        self._closed.set()
        self._waiting = None
        if self._worker is not None:
            self._worker.stop.set()

    def wait(self, timeout: float) -> bool:
        """Block until the training thread has returned (event files closed); False on timeout."""
        worker = self._worker
        return worker is None or worker.done.wait(timeout)

    def _start(self, spec: RunSpec) -> None:
        worker = self._worker = _Worker(spec.run_id)

        def body() -> None:
            try:
                lower_thread_priority()
                self._train(spec, worker.stop)
            finally:
                worker.done.set()

        self._spawn(body, f"run {spec.run_id}")

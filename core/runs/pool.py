"""The one process pool for commands that train many runs: the sweep, the report, the experiments.

- Workers are spawned (TensorFlow is not fork-safe), use one TensorFlow thread each, die
  with this process (core.system.children.guard_worker) and leave Ctrl-C and SIGHUP to it.
- A worker that dies takes its pool down: the jobs not finished are retried in a fresh
  pool, a few times, then reported as died.
- Ctrl-C (KeyboardInterrupt, also SIGTERM / SIGHUP via core.system.children) or the
  caller's `stop` event ends it within about STOP_GRACE_SECONDS: queued jobs are
  cancelled, running ones see the shared stop event at their next step (so their event
  files close cleanly), and workers still busy after the grace are terminated. The jobs
  that finished are returned, so the caller can still write them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field

POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 1.5
POOLS = 3  # the first pool and two retries after a worker died

_worker_stop = None  # in a worker: the pool's multiprocessing Event


def worker_stop():
    """In a worker: the pool's stop event (pass it to record_run as `stop`); None elsewhere."""
    return _worker_stop


@dataclass
class PoolRun:
    """What a pool run produced: results by job index, jobs whose worker died, and whether it was stopped."""

    results: dict[int, object] = field(default_factory=dict)
    died: dict[int, str] = field(default_factory=dict)
    stopped: bool = False


def run_in_pool(
    function: Callable,
    jobs: Sequence,
    workers: int,
    *,
    on_result: Callable[[int, object], None] | None = None,
    poll: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
    initializer: Callable | None = None,
    initargs: tuple = (),
) -> PoolRun:
    """function(job) for every job on `workers` processes. on_result(index, result) as each
    finishes; poll() about every POLL_SECONDS (e.g. to drain a progress queue); `stop` ends
    the pool like Ctrl-C does. KeyboardInterrupt is re-raised after the pool has stopped,
    with `.pool_run` holding what finished."""
    if workers < 1:
        raise ValueError(f"need at least 1 worker process, not {workers}")
    outcome = PoolRun()
    pending = dict(enumerate(jobs))
    context = spawn_context()
    stop_event = context.Event()
    for _ in range(POOLS):
        if not pending:
            break
        broken = _one_pool(
            function, pending, min(workers, len(pending)), context, stop_event, outcome,
            on_result, poll, stop, initializer, initargs,
        )
        if outcome.stopped or not broken:
            break
    if not outcome.stopped:
        for index in pending:
            outcome.died.setdefault(index, "worker process died")
    return outcome


def spawn_context():
    """The spawn context, with multiprocessing's resource tracker started while SIGHUP and SIGINT
    are ignored: it shares our process group, and a closed terminal must not kill it (it then
    prints a traceback per semaphore). Use it for queues and events handed to workers."""
    from multiprocessing import resource_tracker

    with _signals_ignored_in_new_workers():
        resource_tracker.ensure_running()
    return multiprocessing.get_context("spawn")


def _one_pool(function, pending, workers, context, stop_event, outcome, on_result, poll, stop, initializer, initargs) -> bool:
    """Run the pending jobs in one pool (removing each as it finishes); True if the pool broke."""
    pool = futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker,
        initargs=(os.getpid(), stop_event, initializer, initargs),
    )
    submitted: dict[futures.Future, int] = {}
    try:
        with _signals_ignored_in_new_workers():
            for index, job in pending.items():
                submitted[pool.submit(function, job)] = index
        waiting = set(submitted)
        while waiting:
            done, waiting = futures.wait(waiting, timeout=POLL_SECONDS, return_when=futures.FIRST_COMPLETED)
            if poll is not None:
                poll()
            broken = _collect(done, submitted, pending, outcome, on_result)
            if broken:
                _terminate(pool)
                return True
            if stop is not None and stop.is_set():
                _stop(pool, stop_event, waiting, submitted, pending, outcome, on_result, poll)
                return False
    except KeyboardInterrupt as interrupt:
        unfinished = {future for future, index in submitted.items() if index in pending}
        try:
            _stop(pool, stop_event, unfinished, submitted, pending, outcome, on_result, poll)
        except KeyboardInterrupt:  # a second Ctrl-C only cut the grace short; the workers are ended
            pass
        interrupt.pool_run = outcome
        raise
    pool.shutdown(wait=True)
    return False


def _collect(done, submitted, pending, outcome: PoolRun, on_result) -> bool:
    """Record finished futures; True if one of them says the pool broke."""
    broken = False
    for future in done:
        index = submitted[future]
        if future.cancelled() or index not in pending:
            continue
        error = future.exception()
        if isinstance(error, futures.process.BrokenProcessPool):
            broken = True
            continue
        if error is not None:  # the function raised past its own error handling
            outcome.died[index] = f"{type(error).__name__}: {error}"
        else:
            outcome.results[index] = future.result()
            if on_result is not None:
                on_result(index, outcome.results[index])
        del pending[index]
    return broken


def _stop(pool, stop_event, waiting, submitted, pending, outcome: PoolRun, on_result, poll) -> None:
    """Cancel what has not started, let running jobs stop at their next step, then end the workers."""
    outcome.stopped = True
    stop_event.set()
    for future in waiting:
        future.cancel()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    try:
        running = {f for f in waiting if not f.cancelled()}
        while running and time.monotonic() < deadline:
            done, running = futures.wait(running, timeout=min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))
            if poll is not None:
                poll()
            _collect(done, submitted, pending, outcome, on_result)
    finally:  # a second Ctrl-C during the grace only makes it shorter
        _terminate(pool)


def _terminate(pool: futures.ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public way to end busy workers: its process table is the only handle.
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(2)
        if process.is_alive():
            process.kill()
            process.join(1)


class _signals_ignored_in_new_workers:
    """While workers are spawned: SIGINT / SIGHUP ignored, so a worker inherits "ignore" from
    its first instruction (a Ctrl-C while it is still importing gives no traceback). Main thread only."""

    SIGNALS = (signal.SIGINT, signal.SIGHUP)

    def __enter__(self):
        self.saved = None
        if threading.current_thread() is threading.main_thread():
            self.saved = [signal.signal(sig, signal.SIG_IGN) for sig in self.SIGNALS]
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            for sig, handler in zip(self.SIGNALS, self.saved):
                signal.signal(sig, handler)
        return False


def _init_worker(parent_pid: int, stop_event, initializer, initargs) -> None:
    global _worker_stop
    from core.system.children import guard_worker
    from core.system.tfquiet import TRAINING_THREADS, import_tensorflow_quietly

    guard_worker(parent_pid)
    _worker_stop = stop_event
    import_tensorflow_quietly(threads=TRAINING_THREADS)  # and J workers on J cores do not fight over threads
    if initializer is not None:
        initializer(*initargs)

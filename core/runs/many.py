"""Diagnose every run under a root folder (a class's submissions, hundreds of runs), in worker
processes when there are many: each worker reads one run, diagnoses it and sends back only
the report (verdict, reading, warnings), never the run's values, so memory stays one run per
worker and the reports come back in the folder's order, as a progress bar wants them.

    for total, report in diagnose_runs(root, jobs=2): ...

Workers are the commands' one pool's (core/runs/pool.py) and each imports TensorFlow once,
quietly; a run that cannot be read, or whose worker died, is a report with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from core.doctor.engine import diagnose
from core.runs.pool import PoolRun, run_in_pool
from core.doctor.findings import Diagnosis
from core.schema.history import History
from core.schema.reading import Reading
from core.tensorboard.reading import discover
from core.tensorboard.reading.discover import LogError
from core.tensorboard.reading.names import printable
from core.tensorboard.reading.run import read_or_warn

MIN_RUNS_PER_WORKER = 8  # below this a worker's start-up (importing TensorFlow) costs more than it saves


@dataclass(frozen=True)
class RunReport:
    """What `tblab diagnose` shows of one run: whether anything was read, its warnings, the
    diagnosis, the log's style and how its tags were read."""

    run: str
    read: bool
    warnings: tuple[str, ...]
    diagnosis: Diagnosis
    style: str
    reading: Reading


def report_of(history: History) -> RunReport:
    return RunReport(run=history.run, read=bool(history.train or history.val or history.histograms),
                     warnings=tuple(history.warnings), diagnosis=diagnose(history), style=history.facts.style,
                     reading=history.facts.reading)


def diagnose_runs(root: str | Path, *, overrides: Mapping[str, str] | None = None,
                  jobs: int = 1) -> Iterator[tuple[int, RunReport]]:
    """(number of runs, report) for each run under root, in order; `jobs` worker processes
    (capped at the cores and at one per MIN_RUNS_PER_WORKER runs; 1: in this process) of the
    commands' one pool (core/runs/pool.py: spawned, retried if one dies, stopped by Ctrl-C).
    LogError (before the first run) when root holds no event files at all."""
    root = Path(root)
    runs = discover.find_runs(root)
    if not runs:
        raise LogError(f"no TensorBoard event files under {printable(str(root))}")
    tasks = [(str(run), discover.run_name(run, root), dict(overrides or {})) for run in runs]
    workers = max(1, min(jobs, os.cpu_count() or 1, len(runs) // MIN_RUNS_PER_WORKER))
    if workers == 1:
        for task in tasks:
            yield len(runs), _report(task)
        return
    yield from _in_workers(tasks, workers)


def _in_workers(tasks: list[tuple[str, str, dict]], workers: int) -> Iterator[tuple[int, RunReport]]:
    """The pool runs in a thread; reports are handed on in the folder's order as they complete."""
    done: queue.Queue = queue.Queue()
    outcome: list[PoolRun] = []
    stop = threading.Event()  # Ctrl-C in the caller, or a generator closed early, stops the pool

    def work() -> None:
        try:
            outcome.append(run_in_pool(_report, tasks, workers, on_result=lambda i, r: done.put((i, r)),
                                       stop=stop, initializer=_quiet))
        finally:
            done.put(None)

    thread = threading.Thread(target=work, name="tblab-diagnose-pool", daemon=True)
    thread.start()
    ready: dict[int, RunReport] = {}
    next_index = 0
    try:
        while (item := done.get()) is not None:
            ready[item[0]] = item[1]
            while next_index in ready:
                yield len(tasks), ready.pop(next_index)
                next_index += 1
    finally:
        stop.set()
        thread.join()
    died = outcome[0].died if outcome else {}
    for index in range(next_index, len(tasks)):  # a run whose worker died (or was never reached)
        if index in ready:
            yield len(tasks), ready.pop(index)
        else:
            reason = died.get(index, "not diagnosed")
            yield len(tasks), _unread(tasks[index][1], f"{printable(tasks[index][0])}: {reason}")


def _unread(name: str, warning: str) -> RunReport:
    return report_of(History(run=name, warnings=[warning]))


def _report(task: tuple[str, str, dict]) -> RunReport:
    run, name, overrides = task
    return report_of(read_or_warn(Path(run), name, None, overrides))


def _quiet() -> None:
    """A worker (the pool has imported TensorFlow quietly): below the parent in priority."""
    try:
        os.nice(5)
    except OSError:
        pass

"""Diagnose every run under a root folder (a class's submissions, hundreds of runs), in worker
processes when there are many: each worker reads one run, diagnoses it and sends back only
the report (verdict, reading, warnings), never the run's values, so memory stays one run per
worker and the reports come back in the folder's order, as a progress bar wants them.

    for total, report in diagnose_runs(root, jobs=2): ...

Workers are spawned (never forked from a process that may hold TensorFlow's threads) and
each imports TensorFlow once, quietly; a run that cannot be read is a report with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from core.doctor.engine import diagnose
from core.doctor.findings import Diagnosis
from core.schema.history import History
from core.schema.reading import Reading
from core.tensorboard.reading import discover
from core.tensorboard.reading.discover import LogError
from core.tensorboard.reading.names import printable
from core.tensorboard.reading.run import read_or_warn

MIN_RUNS_PER_WORKER = 8  # below this a worker's start-up (importing TensorFlow) costs more than it saves
CHUNK = 4  # runs a worker takes at a time: fewer round trips, still an even spread


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
    (capped at the cores and at one per MIN_RUNS_PER_WORKER runs; 1: in this process).
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
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_quiet)
    try:
        for report in pool.map(_report, tasks, chunksize=CHUNK):
            yield len(tasks), report
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C or a closed generator: no worker left behind


def _report(task: tuple[str, str, dict]) -> RunReport:
    run, name, overrides = task
    return report_of(read_or_warn(Path(run), name, None, overrides))


def _quiet() -> None:
    """A worker: TensorFlow's start-up lines off the terminal, and below the parent in priority."""
    from core.system.tfquiet import import_tensorflow_quietly

    try:
        os.nice(5)
    except OSError:
        pass
    import_tensorflow_quietly()

"""The runs behind a hand-in: each target (a scenario file or a learner's script) as handed
out and with fix sets applied, all through the sweep's process pool.

A scenario trains with tblab's own loop (core.runs.sweep.run_job); a script runs under
`tblab watch`. Either way a job returns a small picklable row, and the parent reads the
History back from the event files the run wrote (the offline path of the doctor).
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from core.schema.history import History

SCENARIO = "scenario"
SCRIPT = "script"


@dataclass(frozen=True)
class Target:
    """One thing to report on: a scenario file or a plain training script."""

    kind: str  # SCENARIO | SCRIPT
    path: str
    name: str  # fail1, or the script's file name (fail1.py)


@dataclass(frozen=True)
class HandinJob:
    target: Target
    fixes: tuple[str, ...]
    steps: int | None
    log_root: str
    data_path: str | None


@dataclass(frozen=True)
class JobRow:
    """What a job sends back from its worker (no History: that is read from `logdir`)."""

    fixes: tuple[str, ...]
    test_accuracy: float = math.nan
    logdir: str = ""
    steps_done: int = 0
    names: dict = field(default_factory=dict)  # tag name (dense_1/kernel) -> the script's name (W1)
    data_source: str = ""
    error: str = ""


@dataclass
class Attempt:
    """One finished run: the row, and the History and diagnosis read from its event files."""

    row: JobRow
    history: History | None = None
    diagnosis: object = None

    @property
    def fixes(self) -> tuple[str, ...]:
        return self.row.fixes

    @property
    def ok(self) -> bool:
        return not self.row.error and self.history is not None


def _scenario_row(job: HandinJob) -> JobRow:
    from core.runs.sweep import SweepJob, run_job

    row = run_job(SweepJob(job.target.path, job.target.name, job.fixes, job.steps, job.log_root, job.data_path))
    steps = 0
    if row.logdir and not row.error:
        from core.schema.scenario import load_scenario_file

        steps = job.steps or load_scenario_file(job.target.path).config.steps
    return JobRow(job.fixes, row.test_accuracy, row.logdir, steps, error=row.error)


def _script_row(job: HandinJob) -> JobRow:
    from core.runs.watch import WatchError, WatchRequest
    from core.runs.watch_headless import watch
    from core.system.rundir import RunError

    request = WatchRequest(Path(job.target.path), fixes=job.fixes, steps=job.steps, data_path=job.data_path)
    try:
        outcome = watch(request, Path(job.log_root), say=lambda text: None, show_output=False)
    except (WatchError, RunError) as error:
        return JobRow(job.fixes, error=str(error))
    error = outcome.error.strip().splitlines()[-1] if outcome.error else ("" if outcome.steps_done else outcome.message)
    return JobRow(job.fixes, outcome.test_accuracy, outcome.logdir, outcome.steps_done, dict(outcome.names),
                  outcome.data_source, error)


def run_job(job: HandinJob) -> JobRow:
    """In a pool worker: one run; any failure becomes the row's error."""
    try:
        return _scenario_row(job) if job.target.kind == SCENARIO else _script_row(job)
    except Exception as error:  # one broken run is a row, not a dead report
        return JobRow(job.fixes, error=traceback.format_exception_only(error)[-1].strip())


def read_attempt(row: JobRow) -> Attempt:
    """The History and diagnosis of a finished row, from its event files."""
    if row.error or not row.logdir:
        return Attempt(row)
    from core.doctor import diagnose
    from core.tensorboard.reader import read_run

    try:
        history = read_run(row.logdir)
    except Exception as error:  # an unreadable log folder is the row's error
        return Attempt(JobRow(row.fixes, row.test_accuracy, row.logdir, row.steps_done, row.names, row.data_source,
                              f"cannot read its logs: {error}"))
    return Attempt(row, history, diagnose(history))


def run_jobs(jobs: list[HandinJob], workers: int, on_row=None) -> list[Attempt]:
    """The jobs on `workers` processes, as Attempts in job order. On Ctrl-C the pool stops and
    KeyboardInterrupt is re-raised with `.attempts`: the finished ones (None for the rest)."""
    from core.runs.pool import run_in_pool
    from core.runs.sweep import STOPPED

    started = time.perf_counter()

    def notify(index: int, row: JobRow) -> None:
        if on_row is not None:
            on_row(jobs[index], row, time.perf_counter() - started)

    try:
        outcome = run_in_pool(run_job, jobs, workers, on_result=notify)
    except KeyboardInterrupt as interrupt:
        done = {i: row for i, row in interrupt.pool_run.results.items() if not row.error.startswith(STOPPED)}
        interrupt.attempts = [read_attempt(done[i]) if i in done else None for i in range(len(jobs))]
        raise
    return [read_attempt(outcome.results[i]) if i in outcome.results
            else Attempt(JobRow(job.fixes, error=outcome.died.get(i, "stopped before it finished")))
            for i, job in enumerate(jobs)]

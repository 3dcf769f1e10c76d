"""The fix sweep: every scenario x every single fix (plus each scenario's expected fix set),
trained in parallel processes, each with its own log folder, summarised as one table.

A run that crashes, or kills its worker process, becomes a row with its error.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from core.schema.fixes import FIXES
from core.schema.scenario import Scenario


@dataclass(frozen=True)
class SweepJob:
    scenario_path: str
    scenario: str
    fixes: tuple[str, ...]
    steps: int | None
    log_root: str
    data_path: str | None


@dataclass(frozen=True)
class SweepRow:
    scenario: str
    fixes: str  # "as-is" or "init+activation"
    expected: bool  # the scenario's expected fix set
    test_accuracy: float = math.nan
    final_loss: float = math.nan
    first_nonfinite_step: int | None = None
    seconds: float = math.nan
    logdir: str = ""
    error: str = ""


def jobs_for(scenarios: list[Scenario], steps: int | None, log_root: Path, data_path: str | None) -> list[SweepJob]:
    jobs = []
    for scenario in scenarios:
        fix_sets = [()] + [(name,) for name in FIXES]
        if len(scenario.expected_fixes) > 1:
            fix_sets.append(tuple(scenario.expected_fixes))
        for fixes in fix_sets:
            jobs.append(SweepJob(scenario.path, scenario.name, fixes, steps, str(log_root), data_path))
    return jobs


STOPPED = "stopped before it finished"  # Ctrl-C, SIGTERM or SIGHUP


def run_job(job: SweepJob) -> SweepRow:
    from core.runs.pool import worker_stop

    expected = False
    label = "+".join(job.fixes) or "as-is"
    started = time.perf_counter()
    stop = worker_stop()
    if stop is not None and stop.is_set():  # queued before the pool was stopped
        return SweepRow(job.scenario, label, expected, error=STOPPED)
    try:
        from core.data.mnist import load_mnist
        from core.runs.recipe import configure, record_run
        from core.schema.scenario import load_scenario_file
        from core.system.rundir import run_logdir

        scenario = load_scenario_file(job.scenario_path)
        expected = set(job.fixes) == set(scenario.expected_fixes) and bool(job.fixes)
        config = configure(scenario.config, job.fixes, steps=job.steps)
        logdir = run_logdir(Path(job.log_root) / "sweep", scenario.name, job.fixes)
        result = record_run(config, data=load_mnist(job.data_path), logdir=logdir, run_name=scenario.name, stop=stop)
        return SweepRow(
            job.scenario, label, expected, result.test_accuracy, result.history.series("loss").last(),
            result.first_nonfinite_step, time.perf_counter() - started, str(logdir),
            error=result.log_error or (f"{STOPPED}, at step {result.steps_done}" if result.stopped and stop is not None and stop.is_set() else ""),
        )
    except Exception as error:  # one broken run is a row, not a dead sweep
        last = traceback.format_exception_only(error)[-1].strip()
        return SweepRow(job.scenario, label, expected, seconds=time.perf_counter() - started, error=last)


def run_sweep(jobs: list[SweepJob], workers: int, on_row=None) -> list[SweepRow]:
    """Run the jobs on `workers` processes (core.runs.pool); rows come back in job order.

    On Ctrl-C the pool stops within a couple of seconds and KeyboardInterrupt is re-raised
    with `.rows`: the finished rows, and a "stopped" row for every other job.
    """
    from core.runs.pool import run_in_pool

    def notify(index: int, row: SweepRow) -> None:
        if on_row is not None:
            on_row(row)

    try:
        outcome = run_in_pool(run_job, jobs, workers, on_result=notify)
    except KeyboardInterrupt as interrupt:
        interrupt.rows = _rows(jobs, interrupt.pool_run)
        raise
    return _rows(jobs, outcome)


def _rows(jobs: list[SweepJob], outcome) -> list[SweepRow]:
    rows = []
    for index, job in enumerate(jobs):
        label = "+".join(job.fixes) or "as-is"
        if index in outcome.results:
            rows.append(outcome.results[index])
        else:
            error = outcome.died.get(index, STOPPED)
            rows.append(SweepRow(job.scenario, label, False, error=error))
    return rows


def markdown_table(rows: list[SweepRow], baseline_accuracy: float | None = None) -> str:
    lines = [
        "| scenario | fixes | test accuracy | final loss | first non-finite step | seconds | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        note = row.error or ("expected fix set" if row.expected else "")
        if not row.error and baseline_accuracy is not None and row.expected:
            gap = (baseline_accuracy - row.test_accuracy) * 100
            note += f"; {abs(gap):.1f} pts {'below' if gap > 0 else 'above'} baseline"
        nonfinite = "" if row.first_nonfinite_step is None else str(row.first_nonfinite_step)
        lines.append(
            f"| {row.scenario} | {row.fixes} | {row.test_accuracy:.4f} | {row.final_loss:.4g} | {nonfinite} | {row.seconds:.0f} | {note} |"
        )
    return "\n".join(lines)

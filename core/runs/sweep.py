"""The fix sweep: every scenario x every single fix (plus each scenario's expected fix set),
trained in parallel processes, each with its own log folder, summarised as one table.

A run that crashes, or kills its worker process, becomes a row with its error.
"""

from __future__ import annotations

import concurrent.futures as futures
import math
import multiprocessing
import time
import traceback
from dataclasses import asdict, dataclass
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


def _worker_init() -> None:
    """One TensorFlow thread per worker: J workers on J cores do not fight over them."""
    from core.system.tfquiet import import_tensorflow_quietly

    import_tensorflow_quietly(threads=1)


def run_job(job: SweepJob) -> SweepRow:
    expected = False
    label = "+".join(job.fixes) or "as-is"
    started = time.perf_counter()
    try:
        from core.data.mnist import load_mnist
        from core.runs.recipe import configure, record_run
        from core.schema.scenario import load_scenario_file
        from core.system.rundir import run_logdir

        scenario = load_scenario_file(job.scenario_path)
        expected = set(job.fixes) == set(scenario.expected_fixes) and bool(job.fixes)
        config = configure(scenario.config, job.fixes, steps=job.steps)
        logdir = run_logdir(job.log_root, f"sweep/{scenario.name}", job.fixes)
        result = record_run(config, data=load_mnist(job.data_path), logdir=logdir, run_name=scenario.name)
        return SweepRow(
            job.scenario, label, expected, result.test_accuracy, result.history.series("loss").last(),
            result.first_nonfinite_step, time.perf_counter() - started, str(logdir),
        )
    except Exception as error:  # one broken run is a row, not a dead sweep
        last = traceback.format_exception_only(error)[-1].strip()
        return SweepRow(job.scenario, label, expected, seconds=time.perf_counter() - started, error=last)


def run_sweep(jobs: list[SweepJob], workers: int, on_row=None) -> list[SweepRow]:
    """Run the jobs on `workers` processes; rows come back in job order."""
    rows: dict[int, SweepRow] = {}
    pending = dict(enumerate(jobs))
    pools_left = 3  # a worker that dies takes its pool down: retry the rest in a fresh pool
    context = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
    while pending and pools_left:
        pools_left -= 1
        with futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            submitted = {pool.submit(run_job, job): index for index, job in pending.items()}
            try:
                for future in futures.as_completed(submitted):
                    index = submitted[future]
                    rows[index] = future.result()
                    del pending[index]
                    if on_row is not None:
                        on_row(rows[index])
            except futures.process.BrokenProcessPool:
                continue
    for index, job in pending.items():
        rows[index] = SweepRow(job.scenario, "+".join(job.fixes) or "as-is", False, error="worker process died")
    return [rows[i] for i in sorted(rows)]


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


def row_dict(row: SweepRow) -> dict:
    return asdict(row)

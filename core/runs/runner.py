"""Headless runs: one scenario with fixes, progress on the terminal, a summary at the end.

TensorFlow's own log lines go to <log root>/tblab-run.log (on the terminal with --verbose).

Shared by `tblab run` and by running a scenario file on its own (`python fails/fail1.py`).
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from core.doctor import LiveDoctor
from core.runs.progress import RunProgress
from core.runs.recipe import configure, run_scenario
from core.runs.sinks import DoctorSink, doctor_line
from core.schema.json_safe import dumps
from core.schema.scenario import Scenario
from core.schema.tags import LOSS
from core.system.children import interruption
from core.system.names import printable
from core.system.rundir import RunError, run_logdir, write_problem
from core.system.tfquiet import TRAINING_THREADS, import_tensorflow_quietly, stderr_fd_to_file

DEFAULT_LOG_ROOT = Path("logs")
RUN_LOG = "tblab-run.log"  # in the log root: TensorFlow's own C++ log lines, unless --verbose


@dataclass(frozen=True)
class RunRequest:
    scenario: Scenario
    fixes: tuple[str, ...] = ()
    steps: int | None = None
    log_root: Path = DEFAULT_LOG_ROOT
    data_path: str | None = None
    seed: int | None = None
    verbose: bool = False  # TensorFlow's log lines on the terminal instead of in RUN_LOG


def execute(request: RunRequest, *, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    """Run the request; print progress, findings and a summary (or one JSON object). Exit code."""
    from core.data.mnist import DataError, load_mnist

    try:
        config = configure(request.scenario.config, request.fixes, steps=request.steps, seed=request.seed)
        data = load_mnist(request.data_path)
        logdir = run_logdir(request.log_root, request.scenario.name, request.fixes)
    except (ValueError, DataError, RunError) as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    quiet = ExitStack()
    if not request.verbose:
        # For the whole run, not just the import: TensorFlow also logs from later ops.
        # Python's own stderr (errors, --json progress) stays on the terminal.
        try:
            quiet.enter_context(stderr_fd_to_file(Path(request.log_root) / RUN_LOG, keep_python_stderr=True))
        except OSError as error:
            print(f"tblab: cannot write logs to {request.log_root}: {write_problem(Path(request.log_root), error)}", file=sys.stderr)
            return 2
    with quiet:
        return _train_and_report(request, config, data, logdir, as_json=as_json, out=out)


def _train_and_report(request: RunRequest, config, data, logdir: Path, *, as_json: bool, out: TextIO) -> int:
    progress_out = sys.stderr if as_json else out  # looked up here: inside the fd-2 redirect
    print(printable(f"{request.scenario.title} | data: {data.source} | logs: {logdir}"), file=progress_out)
    progress = RunProgress(config.steps, progress_out, enabled=not as_json)
    doctor = LiveDoctor()

    def report(findings, step: int) -> None:
        for finding in findings:
            progress.message(f"  doctor, flagged at step {step}: {finding.title}: {finding.evidence}")

    if request.verbose:
        import tensorflow  # noqa: F401  (with its own log lines, as asked)
    import_tensorflow_quietly(Path(request.log_root) / RUN_LOG, threads=TRAINING_THREADS)
    try:
        result = run_scenario(config, data=data, logdir=logdir, run_name=request.scenario.name,
                              sinks=[progress, DoctorSink(doctor, report)])
    except RunError as error:
        progress.finish()
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM / SIGHUP (core.system.children.Terminated)
        progress.finish()
        code, how = interruption(interrupt)
        print(f"tblab: {how}; the event files in {logdir} are closed and readable", file=sys.stderr)
        return code
    if result.log_error:
        print(f"tblab: {result.log_error}; the run was stopped after {result.steps_done} steps; the event "
              "files keep what was written before", file=sys.stderr)
    diagnosis = doctor.diagnosis()
    summary = run_summary(request, config, result, diagnosis)
    if as_json:
        print(dumps(summary), file=out)
    else:
        _print_summary(request, result, summary, diagnosis, out)
    return 1 if result.log_error else 0


def run_summary(request: RunRequest, config, result, diagnosis) -> dict:
    """The one JSON object of `tblab run --json`."""
    return {
        "scenario": request.scenario.name,
        "fixes": list(request.fixes),
        "steps_done": result.steps_done,
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "final_loss": result.history.series(LOSS).last(),
        "first_nonfinite_step": result.first_nonfinite_step,
        "steps_per_second": round(result.steps_per_second, 1),
        "data_source": result.data_source,
        "logdir": str(result.logdir),
        "findings": [f.to_dict() for f in diagnosis.findings],
        "primary_finding": diagnosis.primary.id if diagnosis.primary else None,
        "config": json.loads(config.to_json()),
        "log_error": result.log_error or None,
    }


def _print_summary(request: RunRequest, result, summary: dict, diagnosis, out: TextIO) -> None:
    nonfinite = result.first_nonfinite_step
    print(
        f"test accuracy {result.test_accuracy:.4f} | final loss {summary['final_loss']:.4g} | "
        f"first non-finite step {'none' if nonfinite is None else nonfinite} | "
        f"{result.steps_per_second:.0f} steps/s",
        file=out,
    )
    if diagnosis.primary is not None:
        print(doctor_line(diagnosis.primary.title, diagnosis.primary.fixes[:1], f"tblab run {request.scenario.name}"), file=out)
    else:
        print("doctor: no finding", file=out)
    print(f"TensorBoard logs: {result.logdir}  (tblab board --logdir {request.log_root})", file=out)

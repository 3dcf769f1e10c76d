"""Headless runs: one scenario with fixes, progress on the terminal, a summary at the end.

Shared by `tblab run` and by running a scenario file on its own (`python fails/fail1.py`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from core.doctor import LiveDoctor
from core.schema.json_safe import dumps
from core.runs.recipe import configure, record_run
from core.schema.history import StepRecord
from core.schema.scenario import Scenario
from core.system.rundir import run_logdir
from core.system.tfquiet import import_tensorflow_quietly

DEFAULT_LOG_ROOT = Path("logs")
BAR_WIDTH = 24
REDRAW_SECONDS = 0.2


@dataclass(frozen=True)
class RunRequest:
    scenario: Scenario
    fixes: tuple[str, ...] = ()
    steps: int | None = None
    log_root: Path = DEFAULT_LOG_ROOT
    data_path: str | None = None
    seed: int | None = None


class Progress:
    """A one-line progress bar on a terminal; a line every 100 steps elsewhere (logs, CI)."""

    def __init__(self, total: int, out: TextIO):
        self.total, self.out = total, out
        self.tty = out.isatty()
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def _speed(self, step: int) -> float:
        return (step + 1) / max(time.perf_counter() - self.started, 1e-9)

    def update(self, record: StepRecord) -> None:
        loss, accuracy = record.scalars["loss"], record.scalars["accuracy"]
        if self.tty:
            now = time.perf_counter()
            if now - self.last_draw < REDRAW_SECONDS and record.step + 1 < self.total:
                return
            self.last_draw = now
            done = int(BAR_WIDTH * (record.step + 1) / self.total)
            bar = "#" * done + "-" * (BAR_WIDTH - done)
            self.out.write(
                f"\r[{bar}] step {record.step + 1}/{self.total}  loss {loss:.4g}  "
                f"acc {accuracy:.3f}  {self._speed(record.step):.0f} steps/s "
            )
            self.out.flush()
        elif record.step % 100 == 0:
            print(f"step {record.step}: loss {loss:.4g}, batch accuracy {accuracy:.3f}", file=self.out, flush=True)

    def message(self, text: str) -> None:
        self.out.write(("\n" if self.tty else "") + text + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")


def execute(request: RunRequest, *, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    """Run the request; print progress, findings and a summary (or one JSON object). Exit code."""
    from core.data.mnist import DataError, load_mnist
    from core.system.rundir import RunError

    progress_out = sys.stderr if as_json else out
    try:
        config = configure(request.scenario.config, request.fixes, steps=request.steps, seed=request.seed)
        data = load_mnist(request.data_path)
    except (ValueError, DataError) as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    logdir = run_logdir(request.log_root, request.scenario.name, request.fixes)
    print(f"{request.scenario.title} | data: {data.source} | logs: {logdir}", file=progress_out)
    progress = Progress(config.steps, progress_out)
    doctor = LiveDoctor(config=config)

    def report(findings, step: int) -> None:
        for finding in findings:
            progress.message(f"  doctor, flagged at step {step}: {finding.title}: {finding.evidence}")

    def on_step(record: StepRecord) -> None:
        progress.update(record)
        report(doctor.update(record), record.step)

    import_tensorflow_quietly()  # after the cheap checks above, so bad input fails fast
    try:
        result = record_run(
            config, data=data, logdir=logdir, run_name=request.scenario.name,
            on_step=on_step, on_eval=doctor.update_eval,
        )
    except RunError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM / SIGHUP (core.system.children.Terminated)
        progress.finish()
        how = f"stopped by {interrupt}" if hasattr(interrupt, "signum") else "interrupted"
        print(f"tblab: {how}; the event files in {logdir} are closed and readable", file=sys.stderr)
        return 128 + getattr(interrupt, "signum", 2)
    progress.finish()
    report(doctor.finish(), result.steps_done - 1)
    diagnosis = doctor.diagnosis()
    summary = {
        "scenario": request.scenario.name,
        "fixes": list(request.fixes),
        "steps_done": result.steps_done,
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "final_loss": result.history.series("loss").last(),
        "first_nonfinite_step": result.first_nonfinite_step,
        "steps_per_second": round(result.steps_per_second, 1),
        "data_source": result.data_source,
        "logdir": str(result.logdir),
        "findings": [f.to_dict() for f in diagnosis.findings],
        "primary_finding": diagnosis.primary.id if diagnosis.primary else None,
        "config": json.loads(config.to_json()),
    }
    if as_json:
        print(dumps(summary), file=out)
    else:
        nonfinite = result.first_nonfinite_step
        print(
            f"test accuracy {result.test_accuracy:.4f} | final loss {summary['final_loss']:.4g} | "
            f"first non-finite step {'none' if nonfinite is None else nonfinite} | "
            f"{result.steps_per_second:.0f} steps/s",
            file=out,
        )
        if diagnosis.primary is not None:
            fixes = " ".join(f"--fix {f}" for f in diagnosis.primary.fixes[:1])
            print(f"doctor: {diagnosis.primary.title}; try: tblab run {request.scenario.name} {fixes}", file=out)
        else:
            print("doctor: no finding", file=out)
        print(f"TensorBoard logs: {result.logdir}  (tblab board --logdir {request.log_root})", file=out)
    return 0



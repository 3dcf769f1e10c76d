"""Sinks of the run event stream that core/runs wires up (core/schema/events.py's consume):
the live doctor, and the watched script's summary for `tblab watch`.

The TensorBoard writer (core/tensorboard/sink.py), the progress bar (core/runs/progress.py)
and the lab's batcher (tui/run_worker.py) are sinks of the same stream.
"""

from __future__ import annotations

from collections.abc import Callable

from core.doctor import LiveDoctor
from core.doctor.findings import Finding
from core.schema.events import Ended, Eval, RunStarted, Step

Report = Callable[[list[Finding], int], None]  # findings, and the step they were flagged at


class DoctorSink:
    """The live doctor on the stream: the run's facts at RunStarted, every step and
    evaluation, its last look at Ended; what it flags goes to `report`."""

    def __init__(self, doctor: LiveDoctor, report: Report | None = None) -> None:
        self.doctor = doctor
        self.report = report or (lambda findings, step: None)
        self.finished = False  # its last look taken (at Ended)

    def on_started(self, event: RunStarted) -> None:
        history = self.doctor.history
        history.facts = event.facts  # the config's batch size and activation, the class balance: for the rules
        history.run = history.run or event.facts.run

    def on_step(self, event: Step) -> None:
        findings = self.doctor.update(event.record)
        if findings:
            self.report(findings, event.record.step)

    def on_eval(self, event: Eval) -> None:
        self.doctor.update_eval(event.step, event.scalars)

    def on_ended(self, event: Ended) -> None:
        self.finished = True
        findings = self.doctor.finish()
        if findings:
            self.report(findings, max(event.steps - 1, 0))


def doctor_line(title: str, fixes, command: str) -> str:
    """The headless commands' last word: the primary finding and the command that tries its
    first fix, or where to read more when the finding has no fix to toggle (overfitting)."""
    if not fixes:
        return f"doctor: {title} (no fix to toggle; `tblab diagnose` explains it)"
    return f"doctor: {title}; try: {command} " + " ".join(f"--fix {f}" for f in fixes)


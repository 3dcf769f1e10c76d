"""`tblab watch` without the lab: a watched script's records through the doctor and into
TensorBoard event files, its output and progress on the terminal, a summary at the end
(or one JSON object).
"""

from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from core.doctor import LiveDoctor
from core.runs.progress import shown_value
from core.runs.sinks import DoctorSink, doctor_line
from core.runs.watch import WatchedScript, WatchError, WatchRequest
from core.schema.events import Ended, Eval, Output, RunStarted, Step, consume
from core.schema.history import blew_up
from core.schema.json_safe import dumps, json_safe
from core.schema.tags import ACCURACY, LOSS
from core.system.children import Terminated, interruption
from core.system.idle import IdleWatchdog
from core.system.names import printable
from core.system.rundir import RunError, prepare_logdir, run_logdir

PROGRESS_EVERY = 100


@dataclass
class WatchOutcome:
    """What a watched run produced, for the summary, the JSON and the tests."""

    script: str
    fixes: list[str]
    logdir: str = ""
    style: str = ""
    data_source: str = ""
    names: dict[str, str] = field(default_factory=dict)
    steps_done: int = 0
    reason: str = ""
    test_accuracy: float = math.nan
    test_loss: float = math.nan
    final_loss: float = math.nan
    first_nonfinite_step: int | None = None
    steps_per_second: float = 0.0
    notices: list[str] = field(default_factory=list)
    error: str = ""
    message: str = ""
    output_lines: int = 0
    findings: list[dict] = field(default_factory=list)
    primary_finding: str | None = None
    unrecorded: int = 0  # steps that ran but could not be recorded
    log_error: str = ""  # why the event files stopped early (a full disk); the script was stopped
    history: object = field(default=None, repr=False)
    diagnosis: object = field(default=None, repr=False)

    def to_json(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k not in ("history", "diagnosis")}
        return json_safe(data)


class OutcomeSink:
    """Fills a WatchOutcome from the stream and tells the learner what happens (`say`)."""

    def __init__(self, outcome: WatchOutcome, say, show_output: bool) -> None:
        self.outcome, self.say, self.show_output = outcome, say, show_output
        self.first_step_time = self.last_step_time = None
        self.last_accuracy: tuple[int, float] | None = None  # (step, value): paced steps measure no accuracy

    def on_started(self, event: RunStarted) -> None:
        facts, outcome = event.facts, self.outcome
        outcome.style, outcome.names, outcome.data_source = facts.loop, dict(facts.variables), facts.data_source
        self.say(f"{facts.loop}: layers {layers_line(facts.variables)}")
        if facts.data_source:
            self.say(f"data: {facts.data_source}")

    def on_step(self, event: Step) -> None:
        record, outcome = event.record, self.outcome
        now = time.perf_counter()
        self.first_step_time = self.first_step_time or now
        self.last_step_time = now
        outcome.steps_done = record.step + 1
        outcome.final_loss = record.scalars.get(LOSS, math.nan)
        if outcome.first_nonfinite_step is None and blew_up(record.scalars):
            outcome.first_nonfinite_step = record.step
        if ACCURACY in record.scalars:
            self.last_accuracy = (record.step, record.scalars[ACCURACY])
        if record.step % PROGRESS_EVERY == 0:
            self.say(f"step {record.step}: loss {shown_value(outcome.final_loss, '.4g')}, "
                     f"batch accuracy {self._accuracy_text(record.step)}")

    def _accuracy_text(self, step: int) -> str:
        """This step's batch accuracy, else the last one measured with its step, else "–"."""
        if self.last_accuracy is None:
            return "–"
        measured_at, value = self.last_accuracy
        return shown_value(value, ".3f") + ("" if measured_at == step else f" (step {measured_at})")

    def on_eval(self, event: Eval) -> None:
        self.outcome.test_accuracy = event.scalars.get(ACCURACY, math.nan)
        self.outcome.test_loss = event.scalars.get(LOSS, math.nan)

    def on_output(self, event: Output) -> None:
        if event.stream == "tblab":
            self.outcome.notices.append(event.text)
            self.say(f"tblab: {event.text}")
        elif event.stream == "error":
            self.outcome.error = event.text
            self.say(f"the script failed:\n{event.text}")
        else:
            self.outcome.output_lines += 1
            if self.show_output:
                self.say(f"  | {event.text}")

    def on_ended(self, event: Ended) -> None:
        outcome = self.outcome
        outcome.reason = event.reason
        outcome.unrecorded = event.unrecorded
        outcome.steps_done = max(outcome.steps_done, event.steps)
        outcome.message = event.message
        if event.dropped_output:
            self.say(f"tblab: {event.dropped_output} lines of the script's output were not shown (printed faster than read)")
        if event.message:
            self.say(f"tblab: {event.message}")

    def speed(self) -> float:
        first, last = self.first_step_time, self.last_step_time
        return (self.outcome.steps_done - 1) / (last - first) if first is not None and last > first else 0.0


class _Stopped:
    """While an interrupted script stops: its last records still reach the event files and the doctor."""

    def __init__(self, outcome: WatchOutcome) -> None:
        self.outcome = outcome

    def on_ended(self, event: Ended) -> None:
        self.outcome.reason = "stopped"


def watch(request: WatchRequest, log_root: Path, *, say=print, show_output=True,
          idle_timeout: float | None = None) -> WatchOutcome:
    """Run the script to its end (or --steps, or `idle_timeout` seconds without a training
    step); raises WatchError / RunError before it starts."""
    logdir = prepare_logdir(run_logdir(log_root, request.script.stem, request.fixes))  # a bad folder fails before TensorFlow loads
    from core.system.tfquiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # before the sink imports it: TensorFlow's start-up lines go to a log, not the terminal
    from core.tensorboard.sink import TensorBoardSink

    run = WatchedScript(request)
    outcome = WatchOutcome(script=str(request.script), fixes=list(request.fixes))
    outcome.logdir = str(logdir)
    doctor = LiveDoctor()
    doctor.history.run = request.script.stem
    outcome.history = doctor.history

    def log_failed(error) -> None:  # a full disk: stop the script, keep what was written, still summarise
        outcome.log_error = str(error)
        say(f"tblab: {error}; stopping the script, the event files keep what was written before")
        run.stop()

    def went_idle(seconds: float) -> None:  # on the watchdog's thread; run.stop() is safe from any thread
        say(f"tblab: no training step for {seconds:.0f} s (--idle-timeout {idle_timeout:g}): stopping the script")
        run.stop()

    board, doctor_sink = TensorBoardSink(logdir, on_failure=log_failed), DoctorSink(doctor, _say_findings(say))
    summary = OutcomeSink(outcome, say, show_output)
    for name in request.fixes:
        say(f"fix {name}: {run.plan[name].how}")
    idle = IdleWatchdog(idle_timeout, went_idle)
    events = run.start()
    try:
        consume(events, [board, doctor_sink, summary, _IdleClock(idle)])
    except KeyboardInterrupt:
        run.stop()
        consume(events, [board, doctor_sink, _Stopped(outcome)])  # the records the script sent while stopping
        raise
    finally:
        idle.close()
        run.stop()
        board.close()
        if idle.fired:
            outcome.reason = "idle"
            outcome.message = f"stopped after {idle_timeout:g} s without a training step (--idle-timeout)"
        outcome.steps_per_second = summary.speed()
        if not doctor_sink.finished:
            doctor.finish()
        diagnosis = doctor.diagnosis()
        outcome.findings = [f.to_dict() for f in diagnosis.findings]
        outcome.primary_finding = diagnosis.primary.id if diagnosis.primary else None
        outcome.diagnosis = diagnosis
    return outcome


class _IdleClock:
    """A sink that pokes the idle watchdog at every training step, and at the script's first
    sign of life (the child's TensorFlow import is not idle time)."""

    def __init__(self, idle: IdleWatchdog) -> None:
        self.idle, self.alive = idle, False

    def on_output(self, event: Output) -> None:
        if not self.alive:
            self.alive = True
            self.idle.poke()

    def on_started(self, event: RunStarted) -> None:
        self.alive = True
        self.idle.poke()

    def on_step(self, event: Step) -> None:
        self.idle.poke()


def _say_findings(say):
    def report(findings, step: int) -> None:
        for finding in findings:
            say(f"  doctor, flagged at step {step}: {finding.title}: {finding.evidence}")

    return report


def execute_watch(request: WatchRequest, log_root: Path, *, as_json: bool = False, out: TextIO | None = None,
                  idle_timeout: float | None = None) -> int:
    """The `tblab watch` command: exit 0 when the script trained, 1 when it failed or never
    trained, 2 for bad input, 128 + the signal when stopped by one (130 for Ctrl-C)."""
    out = out if out is not None else sys.stdout  # looked up now, not when this module was imported
    progress_out = sys.stderr if as_json else out

    def say(text: str) -> None:
        print(text, file=progress_out, flush=True)

    def interrupt(signum, frame):
        raise Terminated(signum)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        outcome = watch(request, log_root, say=say, idle_timeout=idle_timeout)
    except (WatchError, RunError) as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stopped:
        code, how = interruption(stopped)
        print(f"tblab: {how}; the script was stopped and the event files are closed and readable", file=sys.stderr)
        return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    diagnosis = outcome.diagnosis
    if as_json:
        print(dumps(outcome.to_json()), file=out)
    else:
        nonfinite = outcome.first_nonfinite_step
        unrecorded = f" with {outcome.unrecorded} steps unrecorded" if outcome.unrecorded else ""
        accuracy = "not seen (the script never evaluated the whole test set)" if math.isnan(outcome.test_accuracy) else f"{outcome.test_accuracy:.4f}"
        print(
            f"{outcome.steps_done} steps ({outcome.reason}{unrecorded}) | test accuracy {accuracy} | final loss {outcome.final_loss:.4g} | "
            f"first non-finite step {'none' if nonfinite is None else nonfinite} | {outcome.steps_per_second:.0f} steps/s",
            file=out,
        )
        if diagnosis.primary is not None:
            print(doctor_line(diagnosis.primary.title, diagnosis.primary.first_repair, f"tblab watch {request.script}"), file=out)
        elif outcome.steps_done:
            recorded = f" in the {outcome.steps_done - outcome.unrecorded} steps recorded" if outcome.unrecorded else ""
            print(f"doctor: no finding{recorded}", file=out)
        print(f"TensorBoard logs: {outcome.logdir}  (tblab board --logdir {log_root})", file=out)
    trained = outcome.steps_done > 0 and outcome.reason in ("finished", "steps")
    return 0 if trained else 1


def layers_line(variables: dict[str, str]) -> str:
    """`W1 (W1, b1), W2 (W2, b2)`: each layer as its tags name it, with the script's names for
    its variables (a child's names are untrusted: control characters go)."""
    grouped: dict[str, list[str]] = {}
    for tag, name in variables.items():
        grouped.setdefault(tag.split("/")[0], []).append(name)
    return printable(", ".join(f"{layer} ({', '.join(names)})" for layer, names in grouped.items()))

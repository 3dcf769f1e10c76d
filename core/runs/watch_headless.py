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
from core.runs.watch import (
    DataServed,
    Ended,
    Eval,
    Notice,
    Output,
    ScriptError,
    Snapshot,
    Started,
    Step,
    WatchedScript,
    WatchError,
    WatchRequest,
)
from core.runs.watch_log import WatchLog
from core.schema.facts import RunFacts
from core.schema.history import blew_up
from core.schema.json_safe import dumps, json_safe
from core.schema.tags import ACCURACY, LOSS
from core.system.children import Terminated, interruption
from core.system.idle import IdleWatchdog
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
    log_error: str = ""  # why the event files stopped early (a full disk); the script was stopped
    history: object = field(default=None, repr=False)
    diagnosis: object = field(default=None, repr=False)

    def to_json(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k not in ("history", "diagnosis")}
        return json_safe(data)


def watch(request: WatchRequest, log_root: Path, *, say=print, show_output=True,
          idle_timeout: float | None = None) -> WatchOutcome:
    """Run the script to its end (or --steps, or `idle_timeout` seconds without a training
    step); raises WatchError / RunError before it starts."""
    run = WatchedScript(request)
    from core.system.tfquiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # the event files need TensorFlow; its start-up lines go to a log

    outcome = WatchOutcome(script=str(request.script), fixes=list(request.fixes))
    logdir = prepare_logdir(run_logdir(log_root, request.script.stem, request.fixes))
    outcome.logdir = str(logdir)
    doctor = LiveDoctor()
    doctor.history.run = request.script.stem
    facts = RunFacts(run=request.script.stem, script=str(request.script), fixes=tuple(request.fixes))

    def log_failed(error) -> None:  # a full disk: stop the script, keep what was written, still summarise
        outcome.log_error = str(error)
        say(f"tblab: {error}; stopping the script, the event files keep what was written before")
        run.stop()

    log = WatchLog(logdir, facts, doctor.history, on_failure=log_failed)
    outcome.history = doctor.history
    for name in request.fixes:
        say(f"fix {name}: {run.plan[name].how}")
    first_step_time = last_step_time = None
    events = run.start()

    def went_idle(seconds: float) -> None:  # on the watchdog's thread; run.stop() is safe from any thread
        say(f"tblab: no training step for {seconds:.0f} s (--idle-timeout {idle_timeout:g}): stopping the script")
        run.stop()

    idle = IdleWatchdog(idle_timeout, went_idle)
    first_event = True
    try:
        for event in events:
            if first_event:  # the clock starts once the script runs, not during the child's TensorFlow import
                idle.poke()
                first_event = False
            log.note(event)
            if isinstance(event, Step):
                record = event.record
                idle.poke()
                now = time.perf_counter()
                first_step_time = first_step_time or now
                last_step_time = now
                log.sink.on_step(record)
                for finding in doctor.update(record):
                    say(f"  doctor, flagged at step {record.step}: {finding.title}: {finding.evidence}")
                outcome.steps_done = record.step + 1
                outcome.final_loss = record.scalars.get(LOSS, math.nan)
                if outcome.first_nonfinite_step is None and blew_up(record.scalars):
                    outcome.first_nonfinite_step = record.step
                if record.step % PROGRESS_EVERY == 0:
                    say(f"step {record.step}: loss {outcome.final_loss:.4g}, batch accuracy {record.scalars.get(ACCURACY, math.nan):.3f}")
            elif isinstance(event, Eval):
                doctor.update_eval(event.step, event.scalars)
                log.sink.on_eval(event.step, event.scalars)
                outcome.test_accuracy = event.scalars.get(ACCURACY, math.nan)
                outcome.test_loss = event.scalars.get(LOSS, math.nan)
            elif isinstance(event, Snapshot):
                log.sink.on_snapshot(event)
            elif isinstance(event, Output):
                outcome.output_lines += 1
                if show_output:
                    say(f"  | {event.text}")
            elif isinstance(event, Started):
                outcome.style, outcome.names = event.style, event.names
                say(f"{event.style}: " + ", ".join(f"{tag} = {name}" for tag, name in event.names.items()))
            elif isinstance(event, DataServed):
                outcome.data_source = event.source
                say(f"data: {event.source}")
            elif isinstance(event, Notice):
                outcome.notices.append(event.text)
                say(f"tblab: {event.text}")
            elif isinstance(event, ScriptError):
                outcome.error = event.text
                say(f"the script failed:\n{event.text}")
            elif isinstance(event, Ended):
                outcome.reason = event.reason
                outcome.steps_done = max(outcome.steps_done, event.steps)
                outcome.message = event.message
                if event.dropped_output:
                    say(f"tblab: {event.dropped_output} lines of the script's output were not shown (printed faster than read)")
                if event.message:
                    say(f"tblab: {event.message}")
    except KeyboardInterrupt:
        run.stop()
        for event in events:  # the records the script sent while stopping
            if isinstance(event, Step):
                log.sink.on_step(event.record)
                doctor.update(event.record)
            elif isinstance(event, Ended):
                outcome.reason = "stopped"
        raise
    finally:
        idle.close()
        run.stop()
        log.close()
        if idle.fired:
            outcome.reason = "idle"
            outcome.message = f"stopped after {idle_timeout:g} s without a training step (--idle-timeout)"
        if first_step_time is not None and last_step_time > first_step_time:
            outcome.steps_per_second = (outcome.steps_done - 1) / (last_step_time - first_step_time)
        doctor.finish()
        diagnosis = doctor.diagnosis()
        outcome.findings = [f.to_dict() for f in diagnosis.findings]
        outcome.primary_finding = diagnosis.primary.id if diagnosis.primary else None
        outcome.diagnosis = diagnosis
    return outcome


def execute_watch(request: WatchRequest, log_root: Path, *, as_json: bool = False, out: TextIO = sys.stdout,
                  idle_timeout: float | None = None) -> int:
    """The `tblab watch` command: exit 0 when the script trained, 1 when it failed or never
    trained, 2 for bad input, 128 + the signal when stopped by one (130 for Ctrl-C)."""
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
        accuracy = "not seen (the script never evaluated the whole test set)" if math.isnan(outcome.test_accuracy) else f"{outcome.test_accuracy:.4f}"
        print(
            f"{outcome.steps_done} steps ({outcome.reason}) | test accuracy {accuracy} | final loss {outcome.final_loss:.4g} | "
            f"first non-finite step {'none' if nonfinite is None else nonfinite} | {outcome.steps_per_second:.0f} steps/s",
            file=out,
        )
        if diagnosis.primary is not None:
            fixes = " ".join(f"--fix {f}" for f in diagnosis.primary.first_repair)
            print(f"doctor: {diagnosis.primary.title}; try: tblab watch {request.script} {fixes}", file=out)
        elif outcome.steps_done:
            print("doctor: no finding", file=out)
        print(f"TensorBoard logs: {outcome.logdir}  (tblab board --logdir {log_root})", file=out)
    trained = outcome.steps_done > 0 and outcome.reason in ("finished", "steps")
    return 0 if trained else 1

"""The lab's worker for a plain script: watches it (core.runs.watch) in a thread and reports
by posting the same messages as a training run, plus the script's output lines.

Output lines are batched like records (one message per BATCH_SECONDS, the newest
OUTPUT_LINES_PER_BATCH at most), so a script that prints without pause cannot flood the
UI thread. The child process is started from this thread, which lives until the run ends
(Linux ties the child's death signal to the thread that started it).
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback

from core.schema.facts import RunFacts
from core.schema.tags import ACCURACY
from tui.messages import RunEnded, RunPhase, ScriptOutput
from tui.run_worker import BATCH_SECONDS, Post, RecordBatcher, RunSpec

OUTPUT_LINES_PER_BATCH = 50


def run_script(spec: RunSpec, post: Post, stop: threading.Event) -> None:
    """Watch spec.script to its end or until `stop` is set; every outcome ends in one RunEnded."""
    from core.doctor import LiveDoctor
    from core.runs.watch import (
        DataServed,
        Ended,
        Eval,
        Notice,
        Output,
        ScriptError,
        Snapshot,
        Step,
        WatchedScript,
        WatchError,
        WatchRequest,
    )
    from core.runs.watch_log import WatchLog

    batcher = RecordBatcher(spec.run_id, post)
    lines: list[str] = []
    last_lines_post = 0.0

    def flush_lines(force: bool = False) -> None:
        nonlocal lines, last_lines_post
        now = time.monotonic()
        if lines and (force or now - last_lines_post >= BATCH_SECONDS):
            skipped = max(0, len(lines) - OUTPUT_LINES_PER_BATCH)
            post(ScriptOutput(spec.run_id, lines[-OUTPUT_LINES_PER_BATCH:], skipped))
            lines, last_lines_post = [], now

    try:
        run = WatchedScript(WatchRequest(spec.script, spec.fixes, spec.steps))
    except WatchError as error:
        post(RunEnded(spec.run_id, "failed", str(error)))
        return
    post(RunPhase(spec.run_id, "loading", "starting the script", logdir=str(spec.logdir)))
    doctor = batcher.doctor = LiveDoctor()
    facts = RunFacts(run=spec.scenario, script=str(spec.script), fixes=tuple(spec.fixes))
    log = WatchLog(spec.logdir, facts, doctor.history)
    stopper = threading.Thread(target=lambda: (stop.wait(), run.stop()), daemon=True)
    ended = None
    test_accuracy = math.nan
    try:
        events = run.start()
        stopper.start()
        for event in events:
            log.note(event)
            if isinstance(event, Step):
                log.sink.on_step(event.record)
                batcher.on_step(event.record)
            elif isinstance(event, Eval):
                log.sink.on_eval(event.step, event.scalars)
                batcher.on_eval(event.step, event.scalars)
                test_accuracy = event.scalars.get(ACCURACY, test_accuracy)
            elif isinstance(event, Snapshot):
                log.sink.on_snapshot(event)
                if event.images is not None:
                    batcher.on_images(event.step, event.images)
            elif isinstance(event, Output):
                lines.append(event.text)
                flush_lines()
            elif isinstance(event, Notice):
                lines.append(f"tblab: {event.text}")
            elif isinstance(event, DataServed):
                post(RunPhase(spec.run_id, "loading", "running the script", data_source=event.source))
            elif isinstance(event, ScriptError):
                lines.extend(event.text.splitlines())
                post(ScriptOutput(spec.run_id, [], 0, error=event.text))
            elif isinstance(event, Ended):
                ended = event
        batcher.finish()
    except Exception as error:  # the lab keeps working whatever happens here
        batcher.flush()
        os.write(2, f"tblab: watching {spec.script} failed\n{traceback.format_exc()}".encode())
        post(RunEnded(spec.run_id, "failed", f"{type(error).__name__}: {error}".splitlines()[0]))
        return
    finally:
        run.stop()
        stop.set()  # lets the stopper thread end
        log.close()
        flush_lines(force=True)
    state, detail = _outcome(ended)
    post(RunEnded(spec.run_id, state, detail, test_accuracy=test_accuracy))


def _outcome(ended) -> tuple[str, str]:
    if ended is None:
        return "failed", "the script's process ended without a word"
    if ended.reason == "error":
        return "failed", f"the script failed after {ended.steps} steps (its traceback is in the output)"
    if ended.reason == "stopped":
        return "stopped", f"{ended.steps} steps"
    if ended.steps == 0:
        return "failed", ended.message or "no training step"
    return "finished", f"{ended.steps} steps"

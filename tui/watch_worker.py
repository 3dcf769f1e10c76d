"""The lab's worker for a plain script: watches it (core.runs.watch) in a thread and reports
by posting the same messages as a training run (its RecordBatcher is the same sink of the
same event stream), plus the script's output lines.

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

from core.schema.events import Ended, Eval, Output, RunStarted, consume
from core.schema.tags import ACCURACY
from tui.messages import RunEnded, RunPhase, ScriptOutput
from tui.run_worker import BATCH_SECONDS, Post, RecordBatcher, RunSpec

OUTPUT_LINES_PER_BATCH = 50


class ScriptLines:
    """The lab's sink of a script's Output: its lines (tblab's notices and its traceback
    among them) and its data source, batched like records."""

    def __init__(self, run_id: int, post: Post) -> None:
        self.run_id, self.post = run_id, post
        self.lines: list[str] = []
        self.last_post = 0.0
        self.test_accuracy = math.nan
        self.ended: Ended | None = None

    def on_started(self, event: RunStarted) -> None:
        self.post(RunPhase(self.run_id, "loading", "running the script", data_source=event.facts.data_source,
                           layers=tuple(event.facts.layer_order)))

    def on_eval(self, event: Eval) -> None:
        self.test_accuracy = event.scalars.get(ACCURACY, self.test_accuracy)

    def on_output(self, event: Output) -> None:
        if event.stream == "tblab":
            self.lines.append(f"tblab: {event.text}")
        elif event.stream == "error":
            self.lines.extend(event.text.splitlines())
            self.post(ScriptOutput(self.run_id, [], 0, error=event.text))
        else:
            self.lines.append(event.text)
            self.flush()

    def on_ended(self, event: Ended) -> None:
        self.ended = event

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.lines and (force or now - self.last_post >= BATCH_SECONDS):
            skipped = max(0, len(self.lines) - OUTPUT_LINES_PER_BATCH)
            self.post(ScriptOutput(self.run_id, self.lines[-OUTPUT_LINES_PER_BATCH:], skipped))
            self.lines, self.last_post = [], now


def run_script(spec: RunSpec, post: Post, stop: threading.Event) -> None:
    """Watch spec.script to its end or until `stop` is set; every outcome ends in one RunEnded."""
    from core.doctor import LiveDoctor
    from core.runs.watch import WatchedScript, WatchError, WatchRequest
    from core.system.rundir import prepare_logdir
    from core.tensorboard.sink import TensorBoardSink

    try:
        run = WatchedScript(WatchRequest(spec.script, spec.fixes, spec.steps), run_name=spec.scenario)
    except WatchError as error:
        post(RunEnded(spec.run_id, "failed", str(error)))
        return
    post(RunPhase(spec.run_id, "loading", "starting the script", logdir=str(spec.logdir)))
    batcher, lines = RecordBatcher(spec.run_id, post, LiveDoctor()), ScriptLines(spec.run_id, post)
    board = TensorBoardSink(prepare_logdir(spec.logdir))
    stopper = threading.Thread(target=lambda: (stop.wait(), run.stop()), daemon=True)
    try:
        events = run.start()
        stopper.start()
        consume(events, [board, batcher, lines])
    except Exception as error:  # the lab keeps working whatever happens here
        batcher.flush()
        os.write(2, f"tblab: watching {spec.script} failed\n{traceback.format_exc()}".encode())
        post(RunEnded(spec.run_id, "failed", f"{type(error).__name__}: {error}".splitlines()[0]))
        return
    finally:
        run.stop()
        stop.set()  # lets the stopper thread end
        board.close()
        lines.flush(force=True)
    state, detail = _outcome(lines.ended)
    post(RunEnded(spec.run_id, state, detail, test_accuracy=lines.test_accuracy))


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

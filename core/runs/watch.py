"""The parent side of a watched script: start it in a child process under tblab's hooks,
stream what it records, stop it.

    run = WatchedScript(WatchRequest(Path("my_fail.py"), fixes=("init",)))
    run.plan               # every fix: can it apply to this script, how, or why not
    for event in run.start():   # RunStarted, Step, Eval, Snapshot, Output ... then Ended
        ...
    run.stop()             # from any thread: the script stops cleanly (SIGTERM), else is killed

A watched script is one more producer of the run event stream (core/schema/events.py):
what the child says about the run (its loop style and variables, its data, its config)
is folded into the RunFacts of RunStarted, sent before its first record; tblab's notices
and the script's traceback are Output lines. Sinks (the headless command, the lab, the
doctor, the TensorBoard writer) never need to know the source.
The child runs in its own session (a terminal's Ctrl-C reaches only the parent, which
stops the child) and dies with the parent (PR_SET_PDEATHSIG, and its pipe closing).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.schema.events import Ended, Eval, Output, RunEvent, RunStarted, Step
from core.schema.facts import RunFacts
from core.schema.fixes import FIXES
from core.system import children
from core.system.names import tag_component
from core.schema.history import Snapshot, StepRecord
from core.watch.protocol import FD_ENV, decode, unpack_array
from core.watch.scan import CUSTOM_LOOP, FixPlan, ScanError, plan_fixes, scan_script
from core.watch.spec import WatchSpec

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
STOP_GRACE_SECONDS = 5.0  # after SIGTERM, before SIGKILL
OUTPUT_BACKLOG = 5000  # output lines queued for a slow consumer before lines are dropped
# TensorFlow's C++ log lines (W0000 00:00:... or 2026-11-30 12:00:00.000000: W ...): not the script's output.
TF_LOG_LINE = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "
    r"|WARNING: All log messages before absl::InitializeLog\(\))"
)


class WatchError(Exception):
    """The script cannot be watched as asked; the message is one line for the user."""


@dataclass(frozen=True)
class WatchRequest:
    script: Path
    fixes: tuple[str, ...] = ()
    steps: int | None = None
    data_path: str | None = None
    args: tuple[str, ...] = ()  # the script's own command-line arguments


# --- what the child sends -------------------------------------------------------------------
@dataclass(frozen=True)
class _FactsSeen:
    """Facts the child learnt about the run (RunFacts fields), folded into RunStarted's."""

    changes: dict


@dataclass(frozen=True)
class _ChildEnded:
    steps: int
    reason: str
    unrecorded: int = 0
    other_model: int = 0  # of the unrecorded: steps that trained another model than the recorded one


def _event(message: dict):
    """The event a child's message is (None for a kind this parent does not know)."""
    kind = message["kind"]
    if kind == "step":
        return Step(StepRecord(int(message["step"]), {k: float(v) for k, v in message["scalars"].items()}))
    if kind == "eval":
        return Eval(int(message["step"]), {k: float(v) for k, v in message["scalars"].items()})
    if kind == "snapshot":
        buckets = np.asarray(message["buckets"], np.float64)
        images = message.get("images")
        return Snapshot(
            int(message["step"]), dict(zip(message["tags"], buckets)), float(message["dropped"]),
            unpack_array(images["pixels"], images["shape"]) if images else None,
        )
    if kind == "start":
        return _FactsSeen({"loop": message["style"], "variables": dict(message["names"]), **_layer_facts(message.get("layers"))})
    if kind == "data":
        return _FactsSeen({"data_source": message["source"]})
    if kind == "config":
        return _FactsSeen({"config": dict(message["config"])})
    if kind == "notice":
        return Output(message["text"], "tblab")
    if kind == "error":
        return Output(message["text"], "error")  # the traceback, trimmed to the script's own frames
    if kind == "end":
        return _ChildEnded(int(message["steps"]), message["reason"], int(message.get("unrecorded", 0)),
                           int(message.get("other_model", 0)))
    return None


MAX_LAYERS = 1000  # far more than any MLP a script trains; a child saying more is not believed


def _layer_facts(layers) -> dict:
    """RunFacts' layer_order and output_layers from the layers a child names (input side
    first, the output last), or {} when they are not safe, unique tag components."""
    if not isinstance(layers, list) or not 0 < len(layers) <= MAX_LAYERS or len(set(map(str, layers))) != len(layers):
        return {}
    if any(not isinstance(layer, str) or tag_component(layer) != layer for layer in layers):
        return {}
    return {"layer_order": tuple(layers), "output_layers": (layers[-1],)}


def _unrecorded_message(unrecorded: int, other_model: int, steps: int) -> str:
    """Why steps are missing from the records: another model's, or measures that failed."""
    missing = "their values are missing from the plots, the event files and the doctor"
    if other_model == unrecorded:
        return (f"{unrecorded} of {steps} steps trained another model than the first and were not recorded "
                f"(tblab records one model a run): {missing}")
    if other_model:
        return (f"{unrecorded} of {steps} steps were not recorded ({other_model} trained another model, the rest "
                f"could not be measured; see the first notices): {missing}")
    return f"{unrecorded} of {steps} steps could not be recorded: {missing} (see the first notice)"


def check_request(request: WatchRequest) -> dict[str, FixPlan]:
    """The fix plan for the script; raises WatchError for a missing or unparsable file, an
    unknown fix, or a fix that cannot apply (with its reason)."""
    script = request.script
    if not script.is_file():
        raise WatchError(f"{script}: no such file")
    try:
        scan = scan_script(script)
    except ScanError as error:
        raise WatchError(str(error)) from None
    plan = plan_fixes(scan)
    for name in request.fixes:
        if name not in FIXES:
            raise WatchError(f"unknown fix {name!r}; known: {', '.join(FIXES)}")
        if not plan[name].applies:
            raise WatchError(f"fix {name} cannot apply to {script.name}: {plan[name].how}")
    if request.steps is not None and request.steps < 1:
        raise WatchError("--steps must be >= 1")
    return plan


def spec_for(request: WatchRequest) -> WatchSpec:
    scan = scan_script(request.script)
    initializer = "he" if "activation" in request.fixes else scan.initializer
    return WatchSpec(
        fixes=tuple(request.fixes), steps=request.steps, data_path=request.data_path,
        initializer=initializer, lr_target="optimizer" if scan.uses_optimizer else "gradients",
    )


class WatchedScript:
    """One run of a user's script in a child process. Not reusable: make one per run."""

    def __init__(self, request: WatchRequest, run_name: str = ""):
        self.request = request
        self.plan = check_request(request)  # bad input fails here, before anything starts
        self.spec = spec_for(request)
        self.process: subprocess.Popen | None = None
        self._events: queue.Queue = queue.Queue()
        self._stop_asked = threading.Event()
        self._dropped_output = 0
        self._output_lock = threading.Lock()
        self._queued_output = 0
        self.facts = RunFacts(run=run_name or request.script.stem, script=str(request.script), fixes=tuple(request.fixes),
                              loop=CUSTOM_LOOP)

    def start(self) -> Iterator[RunEvent]:
        """Start the child and return the stream of its events (ending with Ended).
        Call it from a thread that outlives the run: Linux sends the child its death signal
        when the thread that started it ends."""
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env[FD_ENV] = str(write_fd)
        env["TBLAB_WATCH_PARENT"] = str(os.getpid())
        env["PYTHONUNBUFFERED"] = "1"  # the script's prints arrive line by line
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = ["-m", "core.watch.child", self.spec.to_json(), str(self.request.script), *self.request.args]
        try:  # never imports from the working folder; leftovers of the script's group stop after it
            self.process = children.spawn_python(
                command, env, stdin=children.piped_stdin(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        readers = [
            threading.Thread(target=self._read_records, args=(os.fdopen(read_fd, "rb"),), daemon=True),
            threading.Thread(target=self._read_output, args=(self.process.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._read_output, args=(self.process.stderr, "stderr"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        return self._stream(readers)

    # --- reading ------------------------------------------------------------------------
    def _read_records(self, pipe) -> None:
        with pipe:
            for line in pipe:
                message = decode(line)
                event = _event(message) if message is not None else None
                if event is not None:
                    self._events.put(event)
        self._events.put(("closed", "records"))

    def _read_output(self, pipe, stream: str) -> None:
        with pipe:
            for raw in pipe:
                text = raw.decode(errors="replace").rstrip("\n")
                if stream == "stderr" and TF_LOG_LINE.match(text):
                    continue
                with self._output_lock:
                    if self._queued_output >= OUTPUT_BACKLOG:
                        self._dropped_output += 1  # a consumer this far behind only needs the latest lines
                        continue
                    self._queued_output += 1
                self._events.put(Output(text, stream))
        self._events.put(("closed", stream))

    def _stream(self, readers) -> Iterator[RunEvent]:
        open_pipes = 3
        steps, reason, error_seen, started, unrecorded, other_model = 0, "", False, False, 0, 0
        while open_pipes:
            event = self._events.get()
            if isinstance(event, tuple):  # a pipe closed
                open_pipes -= 1
                continue
            if isinstance(event, _ChildEnded):
                steps, reason, unrecorded, other_model = event.steps, event.reason, event.unrecorded, event.other_model
                continue
            if isinstance(event, _FactsSeen):
                self.facts = self.facts.but(**event.changes)  # after RunStarted: kept here, not sent again
                continue
            if isinstance(event, Output):
                if event.stream in ("stdout", "stderr"):
                    with self._output_lock:
                        self._queued_output -= 1
                error_seen = error_seen or event.stream == "error"
            elif not started:  # the first record: the facts the script stated before it are known
                started = True
                yield RunStarted(self.facts)
            yield event
        returncode = self.process.wait()
        if not reason:
            reason = "stopped" if self._stop_asked.is_set() else "killed"
        message = ""
        if reason == "finished" and steps == 0 and not error_seen:
            message = ("the script ended without a training step: tblab watches tf.GradientTape.gradient calls "
                       "(custom loops, run eagerly) and Keras Model.fit")
        elif reason == "killed":
            message = f"the script's process ended without a word (exit status {returncode})"
        elif unrecorded:
            message = _unrecorded_message(unrecorded, other_model, steps)
        yield Ended(reason, steps, message, returncode, self._dropped_output, unrecorded)

    # --- stopping -----------------------------------------------------------------------
    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Ask the script to stop (its last records still arrive), then kill it if it lingers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        self._stop_asked.set()
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

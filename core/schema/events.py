"""The run event stream: one typed shape for what every producer emits and every sink takes.

A scenario run (core.train.loop.run_events) and a watched script (core.runs.watch.WatchedScript)
both emit RunStarted(facts), then Step / Eval / Snapshot / Output in the order they happen,
then Ended. `consume(events, sinks)` is the one place that hands events to sinks: a sink is
any object with some of on_started, on_step, on_eval, on_snapshot, on_output and on_ended,
each taking the event; it handles the kinds it cares about and never asks where they
came from (the TensorBoard writer, the plots, the progress bar, the live doctor, a summary).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from core.schema.facts import RunFacts
from core.schema.history import Snapshot, StepRecord


@dataclass(frozen=True)
class RunStarted:
    """Before the first Step, Eval or Snapshot: what the run states about itself."""

    facts: RunFacts


@dataclass(frozen=True)
class Step:
    record: StepRecord


@dataclass(frozen=True)
class Eval:
    """The test-set values after a step (tblab's evaluation, or the script's own)."""

    step: int
    scalars: dict[str, float]


OutputStream = Literal["stdout", "stderr", "tblab", "error"]


@dataclass(frozen=True)
class Output:
    """A line for the learner: the script's stdout or stderr, a notice from tblab's hooks
    (`tblab`), or the script's traceback (`error`, several lines)."""

    text: str
    stream: OutputStream = "stdout"


EndReason = Literal["finished", "steps", "stopped", "nonfinite", "error", "killed"]


@dataclass(frozen=True)
class Ended:
    """The last event of a run. `steps`: how many were done; `message` says, for the
    learner, why a run did not train as expected."""

    reason: EndReason
    steps: int
    message: str = ""
    returncode: int | None = None  # a watched script's exit status
    dropped_output: int = 0  # output lines not shown (printed faster than read)


# Snapshot (core.schema.history): histograms and, every image_every steps, the first inputs.
RunEvent = RunStarted | Step | Eval | Snapshot | Output | Ended

HANDLERS: dict[type, str] = {
    RunStarted: "on_started", Step: "on_step", Eval: "on_eval", Snapshot: "on_snapshot",
    Output: "on_output", Ended: "on_ended",
}


def consume(events: Iterable[RunEvent], sinks: Sequence[object]):
    """Hand every event, in order, to each sink that handles its kind (in `sinks` order).
    Returns what the stream returns when it ends (run_events: the RunResult), else None."""
    handlers = {kind: [getattr(sink, name) for sink in sinks if hasattr(sink, name)] for kind, name in HANDLERS.items()}
    iterator: Iterator = iter(events)
    while True:
        try:
            event = next(iterator)
        except StopIteration as end:
            return end.value
        for handle in handlers[type(event)]:
            handle(event)

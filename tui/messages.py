"""Messages from the training and TensorBoard workers to the app.

Workers never touch widgets: they post these (thread-safe) and the app
updates its RunTraces and views. Every run message carries its run_id, so a
late message from a stopped run lands on that run's trace, not the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from textual.message import Message

from core.schema.history import StepRecord
from tui.run_trace import RunState


@dataclass
class RunPhase(Message):
    """The run moved on (starting or loading), detail says what it is doing."""

    run_id: int
    state: RunState
    detail: str = ""
    logdir: str = ""
    data_source: str = ""
    layers: tuple[str, ...] = ()  # a watched script's layers as it names them, input side first (the last: the output)

    def __post_init__(self) -> None:
        self.state = RunState(self.state)  # ValueError for a state the lab does not know
        super().__post_init__()


@dataclass
class StepBatch(Message):
    """Everything a run produced since the last batch (one message per ~0.1 s, not per step)."""

    run_id: int
    records: list[StepRecord]
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    images: tuple[int, np.ndarray] | None = None  # the newest input batch only
    findings: list = field(default_factory=list)  # new core.doctor Findings
    sent_at: float = 0.0  # time.monotonic() in the worker
    diagnosis: object = None  # the run's last batch: the doctor's core.doctor Diagnosis, as `tblab run` prints it


@dataclass
class ScriptOutput(Message):
    """A watched script's newest output lines (the oldest of a burst skipped), or its traceback."""

    run_id: int
    lines: list[str]
    skipped: int = 0
    error: str = ""


@dataclass
class RunEnded(Message):
    """The worker returned: state is FINISHED, STOPPED or FAILED."""

    run_id: int
    state: RunState
    detail: str = ""
    test_accuracy: float = float("nan")
    steps_per_second: float = 0.0

    def __post_init__(self) -> None:
        self.state = RunState(self.state)
        if self.state.active:
            raise ValueError(f"a run cannot end {self.state}")
        super().__post_init__()


@dataclass
class BoardStarted(Message):
    url: str
    browser_opened: bool


@dataclass
class BoardFailed(Message):
    error: str


@dataclass
class TensorFlowReady(Message):
    """TensorFlow finished importing in the background (or failed to, with the reason)."""

    error: str = ""


@dataclass
class OrderingsReady(Message):
    """core.lessons.orderings finished (report) or failed (error)."""

    report: object
    error: str = ""


@dataclass
class ExperimentLine(Message):
    """A progress line from the experiments screen's worker."""

    text: str


@dataclass
class ExperimentDone(Message):
    """The experiments screen's worker returned: the summary text, or why it failed."""

    name: str
    summary: str = ""
    error: str = ""

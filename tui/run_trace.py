"""RunTrace: what the lab keeps of one run for drawing (bounded, plot-ready), plus its state.

Only the tags the lab plots are kept, each as a DecimatedSeries, so memory and
redraw cost stay flat however long the run. The full record stream still goes
to TensorBoard and to the doctor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

import numpy as np

from core.schema.config import RunConfig
from core.schema.history import StepRecord, blew_up, layer_order
from core.schema.tags import ACCURACY, DEAD_FRACTION, GRAD_NORM, KERNEL, LOSS, OUTPUT_LAYER, SATURATED_FRACTION
from tui.series_buffer import DecimatedSeries

PLOTTED_PREFIXES = tuple(f"{prefix}/" for prefix in (GRAD_NORM, DEAD_FRACTION, SATURATED_FRACTION))
PLOTTED_TAGS = (LOSS, ACCURACY)
RATE_SMOOTHING = 0.3  # weight of the newest measurement in the steps/s average



class RunState(StrEnum):
    """A run's life. LOADING covers importing TensorFlow and reading MNIST; the last three are ends."""

    STARTING = "starting"
    LOADING = "loading"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        """The worker has not ended."""
        return self in (RunState.STARTING, RunState.LOADING, RunState.RUNNING)

    @property
    def waiting(self) -> bool:
        """Active, but no step yet."""
        return self in (RunState.STARTING, RunState.LOADING)


@cache  # a run has a few dozen tags and sends each one every step
def _plotted(tag: str) -> bool:
    if tag in PLOTTED_TAGS:
        return True
    if tag.startswith(f"{GRAD_NORM}/"):
        return tag.endswith(f"/{KERNEL}")  # one line per layer: the kernel's
    return tag.startswith(PLOTTED_PREFIXES)


@dataclass
class RunTrace:
    """One run of one scenario as the lab shows it."""

    run_id: int
    scenario_key: str
    config: RunConfig
    name: str = ""  # the scenario's name, for the status line
    fixes: tuple[str, ...] = ()
    state: RunState = RunState.STARTING
    detail: str = ""  # what it is doing now, or why it failed
    logdir: str = ""
    data_source: str = ""
    layer_order: tuple[str, ...] = ()  # a watched script's layers as it names them (w0 ... wout); else by name
    train: dict[str, DecimatedSeries] = field(default_factory=dict)
    val: dict[str, DecimatedSeries] = field(default_factory=dict)
    last_step: int = -1
    first_nonfinite_step: int | None = None
    images: np.ndarray | None = None  # [k, 28, 28] as the model saw them
    image_step: int = -1
    findings: list = field(default_factory=list)  # core.doctor Finding objects, in order found
    primary: object = None  # the doctor's primary Finding once the run has ended (settle_findings)
    steps_per_second: float = 0.0
    test_accuracy: float = math.nan
    stopping: bool = False  # asked to stop; the worker ends at the next step
    started_at: float = 0.0  # time.monotonic() of the first step's batch
    ended_at: float = 0.0  # and of the run's end (set by the app)
    config_key: tuple = ()  # what makes two runs the same experiment (tui/lab_state.py): config, fixes, file
    version: int = 0  # bumped on every change, so views redraw only when needed
    _rate_mark: tuple[float, int] | None = None

    @property
    def total_steps(self) -> int:
        return self.config.steps

    @property
    def active(self) -> bool:
        return self.state.active

    @property
    def has_data(self) -> bool:
        return self.last_step >= 0

    def set_state(self, state: RunState | str, detail: str = "") -> None:
        self.state, self.detail = RunState(state), detail  # ValueError for an unknown state
        self.version += 1

    def add_records(self, records: Iterable[StepRecord], sent_at: float | None = None) -> None:
        """Add a batch of step records; `sent_at` (monotonic seconds) feeds the steps/s estimate."""
        added = False
        for record in records:
            added = True
            for tag, value in record.scalars.items():
                if _plotted(tag):
                    series = self.train.get(tag)  # not setdefault: that builds a series per tag per step
                    if series is None:
                        series = self.train[tag] = DecimatedSeries()
                    series.append(record.step, value)
            self.last_step = max(self.last_step, record.step)
            if self.first_nonfinite_step is None and blew_up(record.scalars):
                self.first_nonfinite_step = record.step
        if not added:
            return
        if self.state.waiting:
            self.state, self.detail = RunState.RUNNING, ""
            self.started_at = sent_at or time.monotonic()
        if sent_at is not None:
            self._update_rate(sent_at)
        self.version += 1

    def add_eval(self, step: int, scalars: dict[str, float]) -> None:
        for tag, value in scalars.items():
            self.val.setdefault(tag, DecimatedSeries()).append(step, value)
        self.version += 1

    def set_images(self, step: int, images: np.ndarray) -> None:
        self.images, self.image_step = images, step
        self.version += 1

    def add_findings(self, findings: Iterable) -> None:
        self.findings.extend(findings)
        self.version += 1

    def settle_findings(self, diagnosis) -> None:
        """The doctor's last word replaces what it flagged along the way: a finding that later
        data ruled out is gone, and the primary is the one `tblab run` and `tblab diagnose` name."""
        self.findings, self.primary = list(diagnosis.findings), diagnosis.primary
        self.version += 1

    def series(self, tag: str) -> DecimatedSeries | None:
        return self.train.get(tag)

    def layer_series(self, prefix: str, part: str = "") -> list[tuple[str, DecimatedSeries]]:
        """(layer, series) for tags prefix/<layer>[/part], input side first."""
        found = []
        head, tail = f"{prefix}/", f"/{part}" if part else ""
        for tag, series in self.train.items():
            if tag.startswith(head) and tag.endswith(tail):
                layer = tag[len(head): len(tag) - len(tail)]
                if layer and "/" not in layer:
                    found.append((layer, series))
        stated = {name: index for index, name in enumerate(self.layer_order)}
        return sorted(found, key=lambda item: (stated.get(item[0], len(stated)), layer_order(item[0])))

    @property
    def output_layer(self) -> str:
        """The output layer's name: a watched script's last layer, else tblab's `output`."""
        return self.layer_order[-1] if self.layer_order else OUTPUT_LAYER

    def _update_rate(self, now: float) -> None:
        if self._rate_mark is not None:
            then, step_then = self._rate_mark
            if now > then and self.last_step > step_then:
                rate = (self.last_step - step_then) / (now - then)
                self.steps_per_second = rate if self.steps_per_second == 0 else (
                    RATE_SMOOTHING * rate + (1 - RATE_SMOOTHING) * self.steps_per_second
                )
        self._rate_mark = (now, self.last_step)


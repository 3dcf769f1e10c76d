"""The progress of a headless run: rich's progress bar on a terminal, a plain line every
LOG_EVERY steps elsewhere (logs, CI), nothing at all when asked for quiet (`--json`).

The speed shown is measured over the last SPEED_WINDOW_SECONDS, not since the process
started: start-up (imports, tracing) would otherwise drag it down for most of a run.
"""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from core.schema.events import Ended, Step
from core.schema.history import StepRecord
from core.schema.tags import ACCURACY, LOSS

SPEED_WINDOW_SECONDS = 2.0
REDRAW_SECONDS = 0.2  # redrawn by the training thread itself: no refresh thread taking the GIL
LOG_EVERY = 100


class RecentSpeedColumn(ProgressColumn):
    """Steps per second over rich's speed window."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:.0f} steps/s" if speed is not None else "- steps/s", style="progress.data.speed")


class RunProgress:
    """Shows a run's steps on `out`; `enabled=False` shows nothing. `get_time` is for tests."""

    def __init__(self, total: int, out: TextIO, *, enabled: bool = True, get_time=None):
        self.total, self.out = total, out
        self.bar = enabled and out.isatty()
        self.log_lines = enabled and not self.bar
        self._clock = get_time or time.monotonic
        self._last_draw = -float("inf")
        self._progress = Progress(
            BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4g}  acc {task.fields[accuracy]:.3f}"),
            RecentSpeedColumn(), TimeElapsedColumn(),
            console=Console(file=out, highlight=False), auto_refresh=False,
            speed_estimate_period=SPEED_WINDOW_SECONDS, get_time=self._clock, disable=not self.bar,
        )
        self._task = self._progress.add_task("train", total=total, loss=float("nan"), accuracy=float("nan"))
        if self.bar:
            self._progress.start()

    def update(self, record: StepRecord) -> None:
        loss, accuracy = record.scalars[LOSS], record.scalars[ACCURACY]
        if self.bar:
            self._progress.update(self._task, completed=record.step + 1, loss=loss, accuracy=accuracy)
            now = self._clock()
            if now - self._last_draw >= REDRAW_SECONDS or record.step + 1 >= self.total:
                self._last_draw = now
                self._progress.refresh()
        elif self.log_lines and record.step % LOG_EVERY == 0:
            print(f"step {record.step}: loss {loss:.4g}, batch accuracy {accuracy:.3f}", file=self.out, flush=True)

    # --- as a sink of the run event stream (core/schema/events.py)
    def on_step(self, event: Step) -> None:
        self.update(event.record)

    def on_ended(self, event: Ended) -> None:
        self.finish()

    def speed(self) -> float | None:
        """Steps per second over the recent window (None before two updates)."""
        return self._progress.tasks[0].speed

    def message(self, text: str) -> None:
        """A line above the bar (a doctor's finding), printed as is."""
        if self.bar:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.out, flush=True)

    def finish(self) -> None:
        if self.bar:
            self._progress.refresh()
            self._progress.stop()
            self.bar = False

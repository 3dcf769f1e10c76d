"""TracePlot: a plotext plot of the selected scenario's current run, with its previous run dimmed.

Subclasses say what to draw in `draw()`. Drawing happens from a timer, only when
a trace changed or the widget was resized, only while the plot is on screen, and
no more often than its own cost allows (REDRAW_SHARE); the built plot is cached,
so repaints that are not redraws cost nothing. Series are thinned to one point
per column before plotting (a plotext build of 10k points costs ~44 ms).
"""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.app import RenderResult
from textual.content import Content
from textual_plotext import PlotextPlot

from tui.run_trace import RunTrace
from tui.series_buffer import DecimatedSeries

REDRAW_SECONDS = 0.25  # at most four redraws a second...
REDRAW_SHARE = 0.025  # ...and at most this share of the UI thread per plot: training shares the GIL with it
POINTS_PER_COLUMN = 1  # plotext joins the points with braille lines; more points only cost time

CURRENT = (90, 170, 255)
TEST = (255, 175, 40)
PREVIOUS = (105, 105, 105)
PREVIOUS_TEST = (140, 120, 80)
CHANCE = (215, 70, 70)
FLOOR = (200, 90, 220)
NONFINITE = (255, 60, 60)


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def legend(*items: tuple[str, tuple[int, int, int]]) -> Content:
    """A border-subtitle legend: coloured marks with names."""
    return Content(" ").join(
        Content.from_markup(f"[{hex_color(color)}]━[/]$name", name=name) for name, color in items
    )


def run_name(trace: RunTrace) -> str:
    """A run's config in a few words: its fixes, or "as-is"."""
    return ", ".join(trace.fixes) or "as-is"


def before_name(previous: RunTrace, current: RunTrace | None) -> str:
    """The legend's name for the dimmed run: "before: as-is", or an earlier save of the same script."""
    name = run_name(previous)
    if current is not None and previous.config_key[:2] == current.config_key[:2]:
        name += ", earlier save"  # same fixes: only the script's file changed
    return f"before: {name}"


class TracePlot(PlotextPlot):
    """Base class: `show()` sets what to draw; the redraw timer does the rest."""

    DEFAULT_CSS = """
    TracePlot { border: round $panel; border-title-color: $text; border-subtitle-color: $text-muted; }
    """
    TITLE = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.current: RunTrace | None = None
        self.previous: RunTrace | None = None
        self.softmax_floor = False
        self._drawn_key: tuple | None = None
        self._built: tuple[tuple, Text] | None = None
        self._draw_seconds = 0.0  # the last redraw's cost (draw + build), which spaces out the next
        self._next_redraw = 0.0

    def on_mount(self) -> None:
        super().on_mount()
        self.border_title = self.TITLE
        self.set_interval(REDRAW_SECONDS, self.redraw_if_stale)

    def show(self, current: RunTrace | None, previous: RunTrace | None, *, softmax_floor: bool = False) -> None:
        """Attributes down: the app says which traces this plot shows."""
        self.current, self.previous, self.softmax_floor = current, previous, softmax_floor
        # Drawn right after the next frame: the frame that answers a key (the list, the info pane)
        # is not held up by four plot builds (up to ~80 ms on a loaded machine).
        self.call_after_refresh(self.redraw_if_stale, True)

    def _data_key(self) -> tuple:
        def version(trace: RunTrace | None):
            return None if trace is None else (trace.run_id, trace.version)

        return (version(self.current), version(self.previous), self.softmax_floor, self.size)

    def redraw_if_stale(self, now: bool = False) -> None:
        """Redraw if the traces or the size changed; `now` skips the spacing (the learner asked)."""
        if not self.is_mounted or self.size.area == 0 or not self.display or self.app.screen is not self.screen:
            return
        if not now and time.monotonic() < self._next_redraw:
            return
        key = self._data_key()
        if key == self._drawn_key:
            return
        started = time.perf_counter()
        self._drawn_key = key
        plt = self.plt
        plt.clear_figure()
        plt.frame(True)
        end = max((t.total_steps for t in (self.current, self.previous) if t is not None), default=0)
        if end:
            plt.xlim(0, end)
        self.draw()
        self._built = None
        self._draw_seconds = time.perf_counter() - started
        self.refresh()

    @property
    def max_points(self) -> int:
        return max(8, self.size.width * POINTS_PER_COLUMN)

    def log_axis(self, values: list[float]) -> None:
        """A log y axis with decade ticks; plotext cannot build an empty one, so only with data."""
        ticks, labels = log_ticks(values, self.size.height - 4)
        if ticks:
            self.plt.yscale("log")
            # whole decades, so a narrow range still gets labels (plotext takes log limits as exponents)
            self.plt.ylim(math.log10(ticks[0]), math.log10(ticks[-1]))
            self.plt.yticks(ticks, labels)

    def line(self, series: DecimatedSeries | None, color, *, positive_only: bool = False) -> list[float]:
        """Plot a series thinned to the widget's width; returns the values drawn."""
        if series is None:
            return []
        steps, values = series.points(self.max_points)
        if positive_only:
            kept = [(s, v) for s, v in zip(steps, values) if v > 0]
            steps, values = [s for s, _ in kept], [v for _, v in kept]
        if steps:
            self.plt.plot(steps, values, color=color, marker="braille")
        return values

    def nonfinite_marker(self) -> None:
        """A vertical line where the current run first produced NaN or Inf."""
        step = self.current.first_nonfinite_step if self.current else None
        if step is not None:
            self.plt.vline(step, color=NONFINITE)

    def before_items(self) -> list[tuple[str, tuple[int, int, int]]]:
        """The legend's entry for the dimmed run, named by its config; none without one."""
        return [(before_name(self.previous, self.current), PREVIOUS)] if self.previous is not None else []

    def draw(self) -> None:
        """Each plot (loss, accuracy, gradient norms, unit fractions) draws its own curves."""
        raise NotImplementedError

    def render(self) -> RenderResult:
        if self.current is None and self.previous is None:
            return Content.from_markup("[dim]no run yet: press [b]space[/b] to start[/]")
        key = (self.size, self.app.theme, self._drawn_key)
        if self._built is None or self._built[0] != key:
            started = time.perf_counter()
            try:
                built = super().render()
            except Exception as error:  # plotext has corner cases; a plot must never take the lab down
                built = Text(f"cannot draw this plot: {type(error).__name__}: {error}", style="dim")
            self._built = (key, built)
            cost = self._draw_seconds + time.perf_counter() - started
            self._next_redraw = time.monotonic() + max(REDRAW_SECONDS, cost / REDRAW_SHARE)
        return self._built[1]


def log_ticks(values: list[float], rows: int) -> tuple[list[float], list[str]]:
    """Decade ticks (1e-8, 1e-6, ...) spanning the positive values, at most one per two rows."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return [], []
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    high = max(high, low + 1)
    stride = max(1, math.ceil((high - low + 1) / max(rows // 2, 1)))
    exponents = list(range(high, low - 1, -stride))[::-1]
    if exponents[0] > low:
        exponents.insert(0, exponents[0] - stride)  # the axis must reach below the smallest value
    return [10.0 ** e for e in exponents], [f"1e{e}" if e else "1" for e in exponents]


def finite_max(values: list[float], default: float) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else default

"""ResultsLine: what the shown run came to, and what "before" came to, one line each.

Test accuracy (the final one once the run has ended, the last measured one with its step
while it trains), steps, time, and the doctor's verdict: the numbers a learner compares.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from core.schema.tags import ACCURACY
from tui.run_outcome import NOT_MEASURED, number, run_seconds, verdict
from tui.run_trace import RunTrace
from tui.widgets.trace_plot import before_name


def test_accuracy_text(trace: RunTrace) -> str:
    """The final test accuracy; while it trains the last one measured, with its step; else "–"."""
    if not trace.active:
        return number(trace.test_accuracy)
    measured = trace.val.get(ACCURACY)
    if measured is None or measured.last_finite_step < 0:
        return NOT_MEASURED
    return f"{number(measured.last_finite_value)} (step {measured.last_finite_step})"


def run_results(trace: RunTrace) -> Content:
    """Test accuracy · steps · time (once it has ended: the status line times a run going) · verdict."""
    took = "" if trace.active else f" · {number(run_seconds(trace), '.0f')} s"
    line = Content.from_markup(
        "test acc [b]$accuracy[/b] · $steps steps$took · doctor: $verdict",
        accuracy=test_accuracy_text(trace), steps=trace.last_step + 1, took=took, verdict=verdict(trace),
    )
    if trace.first_nonfinite_step is not None:  # a real NaN: said as such, where it began
        line = Content.from_markup("[b $text-error]NaN from step $step[/] · ", step=trace.first_nonfinite_step) + line
    return line


def results_content(current: RunTrace | None, previous: RunTrace | None) -> Content:
    if current is None:
        return Content("")
    lines = [Content.from_markup("[b]now[/b]  ") + run_results(current)]
    if previous is not None:
        name = before_name(previous, current)
        lines.append(Content.from_markup("[dim]$name  [/]", name=name) + run_results(previous).stylize("dim"))
    return Content("\n").join(lines)


class ResultsLine(Static):
    DEFAULT_CSS = """
    ResultsLine { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, current: RunTrace | None, previous: RunTrace | None) -> None:
        self.display = current is not None
        self.update(results_content(current, previous), layout=False)  # fixed size: no relayout per batch

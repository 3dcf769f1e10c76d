"""UnitFractionPlot: per layer, the fraction of dead (ReLU) or saturated (sigmoid/tanh) units."""

from __future__ import annotations

from core.schema.tags import DEAD_FRACTION, OUTPUT_LAYER, SATURATED_FRACTION
from tui.run_trace import RunTrace
from tui.widgets.layer_colors import layer_colors, layer_legend
from tui.widgets.trace_plot import PREVIOUS, TracePlot

KINDS = ((DEAD_FRACTION, "dead"), (SATURATED_FRACTION, "saturated"))


def unit_series(trace: RunTrace | None):
    """(kind, [(layer, series)]) for whichever of dead/saturated the run measured."""
    if trace is None:
        return "", []
    for prefix, kind in KINDS:
        found = trace.layer_series(prefix)
        if found:
            return kind, found
    return "", []


class UnitFractionPlot(TracePlot):
    TITLE = "dead / saturated units"

    def draw(self) -> None:
        _, before = unit_series(self.previous)
        for _, series in before:
            self.line(series, PREVIOUS)
        kind, layers = unit_series(self.current)
        colors = layer_colors([name for name, _ in layers], self.current.output_layer if self.current else OUTPUT_LAYER)
        for name, series in layers:
            self.line(series, colors[name])
        self.plt.ylim(0, 1)
        self.border_title = f"{kind} units per layer" if kind else self.TITLE
        self.border_subtitle = layer_legend(colors)

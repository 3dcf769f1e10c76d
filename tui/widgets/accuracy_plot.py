"""AccuracyPlot: train batch accuracy and test accuracy, with the 10% chance line."""

from __future__ import annotations

from core.schema.tags import ACCURACY, CHANCE_ACCURACY
from tui.widgets.trace_plot import CHANCE, CURRENT, PREVIOUS, PREVIOUS_TEST, TEST, TracePlot, legend


class AccuracyPlot(TracePlot):
    TITLE = "accuracy"

    def draw(self) -> None:
        for trace, train_color, test_color in ((self.previous, PREVIOUS, PREVIOUS_TEST), (self.current, CURRENT, TEST)):
            if trace is not None:
                self.line(trace.val.get(ACCURACY), test_color)
                self.line(trace.series(ACCURACY), train_color)
        self.plt.ylim(0, 1)
        self.plt.hline(CHANCE_ACCURACY, color=CHANCE)
        self.nonfinite_marker()
        self.border_subtitle = legend(("train", CURRENT), ("test", TEST), ("chance", CHANCE), *self.before_items())

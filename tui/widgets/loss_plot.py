"""LossPlot: train loss (and test loss when measured), with the chance line and, for a
scenario that applies softmax before the loss, the floor that loss can never go below."""

from __future__ import annotations

import math

from tui.widgets.trace_plot import CHANCE, CURRENT, FLOOR, PREVIOUS, PREVIOUS_TEST, TEST, TracePlot, finite_max, legend

CHANCE_LOSS = math.log(10)  # a uniform guess over 10 classes
SOFTMAX_FLOOR = math.log(1 + 9 / math.e)  # best possible loss when the "logits" are probabilities in [0, 1]
LOG_SCALE_ABOVE = 20.0  # fail1 starts in the hundreds: a linear axis would hide everything else


class LossPlot(TracePlot):
    TITLE = "loss"

    def draw(self) -> None:
        values: list[float] = []
        if self.previous is not None:
            values += self.line(self.previous.series("loss"), PREVIOUS, positive_only=True)
            values += self.line(self.previous.val.get("loss"), PREVIOUS_TEST, positive_only=True)
        if self.current is not None:
            values += self.line(self.current.val.get("loss"), TEST, positive_only=True)
            values += self.line(self.current.series("loss"), CURRENT, positive_only=True)  # on top
        top = finite_max(values, CHANCE_LOSS)
        if top > LOG_SCALE_ABOVE:
            self.log_axis(values + [CHANCE_LOSS])
        else:
            self.plt.ylim(0, max(top, CHANCE_LOSS) * 1.05)
        self.plt.hline(CHANCE_LOSS, color=CHANCE)
        items = [("train", CURRENT), ("test", TEST), ("before", PREVIOUS), ("ln 10", CHANCE)]
        if self.softmax_floor:
            self.plt.hline(SOFTMAX_FLOOR, color=FLOOR)
            items.append(("1.461", FLOOR))
        self.nonfinite_marker()
        self.border_subtitle = legend(*items)
        nonfinite = self.current.first_nonfinite_step if self.current else None
        self.border_title = self.TITLE if nonfinite is None else f"{self.TITLE}: NaN/Inf from step {nonfinite}"

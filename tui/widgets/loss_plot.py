"""LossPlot: train loss (and test loss when measured), with the chance line and, for a
scenario that applies softmax before the loss, the floor that loss can never go below."""

from __future__ import annotations

from core.schema.tags import CHANCE_LOSS, LOSS, NUM_CLASSES, SOFTMAX_FLOOR
from tui.widgets.trace_plot import CHANCE, CURRENT, FLOOR, PREVIOUS, PREVIOUS_TEST, TEST, TracePlot, finite_max, legend

LOG_SCALE_ABOVE = 20.0  # fail1 starts in the hundreds: a linear axis would hide everything else


class LossPlot(TracePlot):
    TITLE = "loss"

    def draw(self) -> None:
        values: list[float] = []
        if self.previous is not None:
            values += self.line(self.previous.series(LOSS), PREVIOUS, positive_only=True)
            values += self.line(self.previous.val.get(LOSS), PREVIOUS_TEST, positive_only=True)
        if self.current is not None:
            values += self.line(self.current.val.get(LOSS), TEST, positive_only=True)
            values += self.line(self.current.series(LOSS), CURRENT, positive_only=True)  # on top
        top = finite_max(values, CHANCE_LOSS)
        if top > LOG_SCALE_ABOVE:
            self.log_axis(values + [CHANCE_LOSS])
        else:
            self.plt.ylim(0, max(top, CHANCE_LOSS) * 1.05)
        self.plt.hline(CHANCE_LOSS, color=CHANCE)
        items = [("train", CURRENT), ("test", TEST), (f"ln {NUM_CLASSES}", CHANCE)]
        if self.softmax_floor:
            self.plt.hline(SOFTMAX_FLOOR, color=FLOOR)
            items.append((f"{SOFTMAX_FLOOR:.3f}", FLOOR))
        items += self.before_items()  # last: a long config name is what the border cuts
        self.nonfinite_marker()
        self.border_subtitle = legend(*items)
        nonfinite = self.current.first_nonfinite_step if self.current else None
        self.border_title = self.TITLE if nonfinite is None else f"{self.TITLE}: NaN/Inf from step {nonfinite}"

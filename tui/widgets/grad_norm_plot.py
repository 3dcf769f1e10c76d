"""GradNormPlot: each layer's kernel gradient norm on a log scale (the vanishing or exploding ladder)."""

from __future__ import annotations

from textual.content import Content

from core.schema.tags import GRAD_NORM, KERNEL, OUTPUT_LAYER
from tui.widgets.layer_colors import layer_colors, layer_legend, short_name
from tui.widgets.trace_plot import PREVIOUS, TracePlot


class GradNormPlot(TracePlot):
    TITLE = "gradient norm per layer (log)"

    def draw(self) -> None:
        values: list[float] = []
        if self.previous is not None:
            for _, series in self.previous.layer_series(GRAD_NORM, KERNEL):
                values += self.line(series, PREVIOUS, positive_only=True)
        layers = self.current.layer_series(GRAD_NORM, KERNEL) if self.current else []
        colors = layer_colors([name for name, _ in layers], self.current.output_layer if self.current else OUTPUT_LAYER)
        zero = []
        for name, series in layers:
            values += self.line(series, colors[name], positive_only=True)
            if series.last_value == 0:
                zero.append(short_name(name))
        self.log_axis(values)
        self.border_title = f"{self.TITLE}: every kernel gradient is 0" if zero and not values else self.TITLE
        self.nonfinite_marker()
        subtitle = layer_legend(colors)
        if zero:  # a log axis cannot show 0: say it in words
            subtitle += Content.from_markup("  [$text-error]= 0: $layers[/]", layers=" ".join(zero))
        self.border_subtitle = subtitle

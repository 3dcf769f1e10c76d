"""Colours for per-layer lines: input side blue, through green and yellow, output red."""

from __future__ import annotations

from textual.content import Content

from core.schema.tags import OUTPUT_LAYER
from tui.widgets.trace_plot import hex_color

_RAMP = [(70, 130, 255), (60, 200, 220), (80, 210, 120), (190, 220, 60), (250, 190, 50), (250, 120, 60)]
OUTPUT_COLOR = (240, 60, 80)


def layer_colors(layers: list[str], output: str = OUTPUT_LAYER) -> dict[str, tuple[int, int, int]]:
    """A colour per layer, input side first; `output` (a watched script's own name for it) is red."""
    hidden = [name for name in layers if name != output]
    colors = {}
    for index, name in enumerate(hidden):
        position = index * (len(_RAMP) - 1) / max(len(hidden) - 1, 1)
        low = int(position)
        high = min(low + 1, len(_RAMP) - 1)
        t = position - low
        colors[name] = tuple(round(a + (b - a) * t) for a, b in zip(_RAMP[low], _RAMP[high]))
    if output in layers:
        colors[output] = OUTPUT_COLOR
    return colors


def short_name(layer: str) -> str:
    """dense_3 -> 3, output -> out: a legend of nine layers must fit a plot's border."""
    if layer == OUTPUT_LAYER:
        return "out"
    return layer.rsplit("_", 1)[-1] if layer.rsplit("_", 1)[-1].isdigit() else layer


def layer_legend(colors: dict[str, tuple[int, int, int]]) -> Content:
    return Content(" ").join(
        Content.from_markup(f"[{hex_color(color)}]$name[/]", name=short_name(layer)) for layer, color in colors.items()
    )

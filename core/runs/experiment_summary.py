"""The experiments' numbers: pure functions from the variants' Histories to the side-by-side
tables and the loss plot that `tblab experiment` prints."""

from __future__ import annotations

import math

import numpy as np

from core.runs.report import evidence, text_plot
from core.schema.history import History, Series, layer_order
from core.schema.tags import (
    ACCURACY,
    ACTIVATION_STD,
    BIAS,
    CHANCE_LOSS,
    DEAD_FRACTION,
    GRAD_NORM,
    KERNEL,
    LOSS,
    OUTPUT_LAYER,
    SATURATED_FRACTION,
    UPDATE_RATIO,
    layer_tag,
)

LEFT_CHANCE = 0.9 * CHANCE_LOSS  # a loss this far below ln 10 means the net predicts better than guessing
WINDOW = 100  # steps averaged for a value "at" a point of the run


def window_width(steps: int) -> int:
    """WINDOW steps, or a tenth of a shorter run."""
    return max(1, min(WINDOW, steps // 10))


def window(series: Series, fraction: float) -> tuple[str, np.ndarray]:
    """The values of window_width steps at `fraction` of the run (0 = first steps, 1 = last),
    and the steps they span, e.g. 'steps 0-99'."""
    values = series.array()
    n = len(values)
    if n == 0:
        return "no steps", values
    width = window_width(n)
    start = min(max(round(fraction * (n - 1)) - width // 2, 0), n - width)
    return f"steps {series.steps[start]}-{series.steps[start + width - 1]}", values[start : start + width]


def median_at(history: History, tag: str, fraction: float) -> float:
    _, values = window(history.series(tag), fraction)
    return float(np.median(values)) if len(values) else math.nan


def mean_at(history: History, tag: str, fraction: float) -> float:
    _, values = window(history.series(tag), fraction)
    return float(np.mean(values)) if len(values) else math.nan


def first_step_below(series: Series, threshold: float, width: int) -> int | None:
    """The first step at which the mean of the last `width` values is below threshold."""
    values = series.array()
    if len(values) < width:
        return None
    means = np.convolve(values, np.ones(width) / width, mode="valid")
    hits = np.flatnonzero(means < threshold)  # NaN compares False: a diverged run never counts
    return series.steps[hits[0] + width - 1] if len(hits) else None


def tail_mean(series: Series) -> float:
    """Mean of the last 10% of the values."""
    values = series.array()
    tail = values[-max(1, len(values) // 10):]
    return float(np.mean(tail)) if len(tail) else math.nan


def final_test_accuracy(history: History) -> float:
    return history.val.get(ACCURACY, Series()).last()


def hidden_layers(history: History) -> list[str]:
    return [layer for layer in history.layers() if layer != OUTPUT_LAYER]


def lost_units_tag(history: History) -> tuple[str, str] | None:
    """(tag prefix, name) of how the run's activation loses units: saturated (tanh, sigmoid) or dead (ReLU)."""
    for prefix, name in ((SATURATED_FRACTION, "saturated"), (DEAD_FRACTION, "dead")):
        if any(tag.startswith(f"{prefix}/") for tag in history.train):
            return prefix, name
    return None


def ratio(a: float, b: float) -> float:
    return a / b if b != 0 and math.isfinite(a) and math.isfinite(b) else math.nan


# --- text ------------------------------------------------------------------------------


def fmt(value, kind: str = "g") -> str:
    """A table cell: None as 'never', non-finite as written, '%' for fractions, 'x' for ratios."""
    if value is None:
        return "never"
    if isinstance(value, (int, np.integer)) and kind == "g":
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if kind == "%":
        return f"{value:.1%}"
    if kind == "x":
        return f"{value:.3g}x"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.2e}"


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Aligned columns: the first left-aligned (row names), the rest right-aligned (numbers)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])


def block_means(series: Series, points: int = 200, transform=None) -> tuple[list[int], list[float]]:
    """The series averaged over consecutive blocks: a readable curve from 10k noisy steps."""
    values = series.array()
    if transform is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = transform(values)
    size = max(1, math.ceil(len(values) / points))
    steps = series.steps[::size]
    means = [float(np.mean(values[i : i + size])) for i in range(0, len(values), size)]
    return steps, means


def _width(histories: dict[str, History]) -> int:
    return window_width(min(len(h.series(LOSS)) for h in histories.values()))


def _common_rows(histories: dict[str, History]) -> list[list[str]]:
    evidences = {label: evidence(h) for label, h in histories.items()}
    return [
        ["test accuracy (end)"] + [fmt(final_test_accuracy(h)) for h in histories.values()],
        ["training loss, last 10% of steps"] + [fmt(e.final_loss) for e in evidences.values()],
        ["training loss at step 0"] + [fmt(e.first_loss) for e in evidences.values()],
        ["first non-finite step"] + [fmt(e.first_nonfinite_step) for e in evidences.values()],
        [f"step loss fell below {LEFT_CHANCE:.2f} (0.9 ln 10)"]
        + [fmt(first_step_below(h.series(LOSS), LEFT_CHANCE, 20)) for h in histories.values()],
    ]


# --- one summary per preset ------------------------------------------------------------


def activation_summary(histories: dict[str, History]) -> list[str]:
    labels = list(histories)
    rows = _common_rows(histories)
    for threshold in (0.1, 0.01):
        rows.append([f"step loss (100-step mean) fell below {threshold}"]
                    + [fmt(first_step_below(h.series(LOSS), threshold, WINDOW)) for h in histories.values()])
    out = ["", text_table(["", *labels], rows)]

    fractions = (0.0, 0.25, 0.5, 0.75, 1.0)
    lost_rows, header_steps = [], None
    for label, h in histories.items():
        lost = lost_units_tag(h)
        if lost is None:
            continue
        prefix, name = lost
        for layer in hidden_layers(h):
            tag = layer_tag(prefix, layer)
            header_steps = header_steps or [window(h.series(tag), f)[0] for f in fractions]
            lost_rows.append([f"{label} {layer} {name}"] + [fmt(mean_at(h, tag, f), "%") for f in fractions])
    if lost_rows:
        out += ["", "Units lost over time (tanh: outputs within 1% of +-1; ReLU: units 0 for the whole batch),"
                " mean over each span of steps:", ""]
        out.append(text_table(["", *header_steps], lost_rows))

    moments = (("start", 0.0), ("middle", 0.5), ("end", 1.0))
    layers = max((h.layers() for h in histories.values()), key=len)
    header = [""] + [f"{label} {name}" for label in labels for name, _ in moments]
    grad_rows = []
    for layer in layers:
        grad_rows.append([layer] + [fmt(median_at(h, layer_tag(GRAD_NORM, layer, KERNEL), f)) for h in histories.values() for _, f in moments])
    first, last = layers[0], layers[-1]
    grad_rows.append([f"ratio {first}/{last}"] + [
        fmt(ratio(median_at(h, layer_tag(GRAD_NORM, first, KERNEL), f), median_at(h, layer_tag(GRAD_NORM, last, KERNEL), f)), "x")
        for h in histories.values() for _, f in moments
    ])
    out += ["", f"Kernel gradient norm per layer, median of {_width(histories)} steps at the start, middle and end of the run:", "",
            text_table(header, grad_rows)]
    return out


def depth_summary(histories: dict[str, History]) -> list[str]:
    labels = list(histories)
    rows = _common_rows(histories)
    rows.append([f"update/weight ratio of dense_1, first {_width(histories)} steps"]
                + [fmt(median_at(h, layer_tag(UPDATE_RATIO, "dense_1", KERNEL), 0.0)) for h in histories.values()])
    out = ["", text_table(["", *labels], rows)]
    layers = sorted({l for h in histories.values() for l in h.layers()}, key=layer_order)
    for part, what in ((KERNEL, "kernel gradient norm"), (BIAS, "bias gradient norm (the back-propagated error summed over the batch)")):
        ladder = [[layer] + [fmt(median_at(h, layer_tag(GRAD_NORM, layer, part), 0.0)) if layer in h.layers() else ""
                             for h in histories.values()] for layer in layers]
        ladder.append(["ratio dense_1/output"] + [
            fmt(ratio(median_at(h, layer_tag(GRAD_NORM, "dense_1", part), 0.0), median_at(h, layer_tag(GRAD_NORM, OUTPUT_LAYER, part), 0.0)), "x")
            for h in histories.values()
        ])
        out += ["", f"Per-layer {what}, median of the first {_width(histories)} steps (input side first):", "", text_table(["", *labels], ladder)]
    return out


def init_summary(histories: dict[str, History]) -> list[str]:
    labels = list(histories)
    rows = _common_rows(histories)

    def at_zero(h: History, tag: str) -> float:
        return h.series(tag).values[0] if len(h.series(tag)) else math.nan

    rows += [
        ["kernel gradient norm at step 0, dense_1"] + [fmt(at_zero(h, layer_tag(GRAD_NORM, "dense_1", KERNEL))) for h in histories.values()],
        ["kernel gradient norm at step 0, output"] + [fmt(at_zero(h, layer_tag(GRAD_NORM, OUTPUT_LAYER, KERNEL))) for h in histories.values()],
        ["std of the last hidden layer's outputs at step 0"]
        + [fmt(at_zero(h, layer_tag(ACTIVATION_STD, hidden_layers(h)[-1])) if hidden_layers(h) else math.nan) for h in histories.values()],
    ]
    out = ["", text_table(["", *labels], rows)]
    layers = sorted({l for h in histories.values() for l in hidden_layers(h)}, key=layer_order)
    diverged = {label for label, h in histories.items() if evidence(h).first_nonfinite_step is not None}

    def dead_at_end(label: str, h: History, layer: str) -> str:
        if layer_tag(DEAD_FRACTION, layer) not in h.train:
            return ""
        # NaN pre-activations compare False with 0: a diverged net would look fully alive.
        return "-" if label in diverged else fmt(tail_mean(h.series(layer_tag(DEAD_FRACTION, layer))), "%")

    dead = [[layer] + [dead_at_end(label, h, layer) for label, h in histories.items()] for layer in layers]
    dead.append(["all hidden layers, at step 0"] + [
        fmt(np.mean([at_zero(h, layer_tag(DEAD_FRACTION, l)) for l in hidden_layers(h)]) if hidden_layers(h) else math.nan, "%")
        for h in histories.values()
    ])
    out += ["", "Dead ReLU units (0 for the whole batch) per layer, mean over the last 10% of steps"
            " ('-': the net was non-finite by then):", "", text_table(["", *labels], dead)]
    return out


def loss_plot(histories: dict[str, History]) -> list[str]:
    """Training loss of up to 4 variants; a diverged variant would flatten the others, so it is left out."""
    long_run = max(h.last_step() for h in histories.values()) >= 3000
    shown, notes = {}, []
    for label, h in histories.items():
        bad = evidence(h).first_nonfinite_step
        if bad is not None:
            notes.append(f"{label} left out: non-finite from step {bad}")
        elif len(shown) == 4:
            notes.append(f"{label} left out: 4 curves at most")
        else:
            shown[label] = block_means(h.series(LOSS), transform=np.log10 if long_run else None)
    if not shown:
        return notes
    # plotext drops a title wider than the plot; the legend in the corner names the markers.
    title = f"{'log10 ' if long_run else ''}training loss per variant (block means)"
    return [text_plot(title, shown), *(f"({note})" for note in notes)]

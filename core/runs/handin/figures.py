"""The hand-in's figures, drawn with matplotlib's Agg backend (no display) and imported
lazily so other commands never pay for it. Every figure uses constrained layout and a
legend outside the axes, so no text overlaps; sizes are for reading at 100 dpi.

Each function writes one PNG (and the same figure as SVG) and returns a Figure: its file
name (relative to the figures folder), its size in pixels, which panels have a log y-axis,
and how many of its titles, labels and legends overlap as drawn (0).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.runs.handin.evidence import first_nonfinite_step, ladder_at, per_layer_mean
from core.runs.handin.names import fmt, shown
from core.schema.history import History, layer_order
from core.schema.tags import ACCURACY, CHANCE_LOSS, DEAD_FRACTION, LOSS, SATURATED_FRACTION

DPI = 100
WIDTH, HEIGHT = 9.0, 3.8  # inches: 900 x 380 pixels
FONT = 10
DECADES = 3  # more than this many decades between the smallest and largest value: log axis
STYLE = {"before": {"color": "tab:red"}, "after": {"color": "tab:blue"}}


@dataclass(frozen=True)
class Figure:
    name: str  # file name in the figures folder
    width: int  # pixels
    height: int
    log_y: tuple[bool, ...]  # per panel
    caption: str
    overlaps: int = 0  # pairs of titles, labels and legends that overlap as drawn (0: none)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": FONT, "axes.titlesize": FONT + 1, "legend.fontsize": FONT - 1})
    return plt


def needs_log(*arrays: np.ndarray) -> bool:
    """Log y when the values go non-finite or span more than DECADES decades."""
    values = np.concatenate([np.asarray(a, float) for a in arrays]) if arrays else np.array([])
    if len(values) and not np.all(np.isfinite(values)):
        return True
    positive = values[values > 0]
    return bool(len(positive) > 1 and positive.max() / positive.min() > 10 ** DECADES)


def _text_boxes(fig) -> list:
    """The drawn extents of the figure's titles, axis labels and legends."""
    renderer = fig.canvas.get_renderer()
    texts = [fig._suptitle] + [sub._suptitle for sub in fig.subfigs]
    legends = []
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        legends.append(ax.get_legend())
    boxes = [t.get_window_extent(renderer) for t in texts if t is not None and t.get_visible() and t.get_text()]
    return boxes + [legend.get_window_extent(renderer) for legend in legends if legend is not None]


def count_overlaps(fig) -> int:
    boxes = [box.expanded(0.98, 0.9) for box in _text_boxes(fig)]  # touching edges are not an overlap
    return int(sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]))


def _save(fig, plt, folder: Path, name: str, log_y: tuple[bool, ...], caption: str, title: str) -> Figure:
    fig.suptitle(f"{title}   ({_dt.date.today().isoformat()})", fontsize=FONT)
    fig.savefig(folder / name, dpi=DPI)
    overlaps = count_overlaps(fig)  # as the PNG was drawn
    fig.savefig((folder / name).with_suffix(".svg"))  # the same figure, sharp at any zoom
    width, height = (int(round(v * DPI)) for v in fig.get_size_inches())
    plt.close(fig)
    return Figure(name, width, height, log_y, caption, overlaps)


def _runs(before: History, after: History | None) -> list[tuple[str, History]]:
    return [("before", before)] + ([("after", after)] if after is not None else [])


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def _loss_panel(ax, runs) -> bool:
    log = needs_log(*(history.series(LOSS).array() for _, history in runs))
    for label, history in runs:
        series = history.series(LOSS)
        steps, values = np.asarray(series.steps), series.array()
        keep = np.isfinite(values) & ((values > 0) if log else True)
        ax.plot(steps[keep], values[keep], lw=1, label=f"{label}: loss", **STYLE[label])
        bad = first_nonfinite_step(history)
        if bad is not None:
            ax.axvline(bad, ls="--", lw=1.2, label=f"{label}: first non-finite step ({bad})", **STYLE[label])
    ax.axhline(CHANCE_LOSS, color="grey", lw=0.8, ls=":", label=f"chance, ln 10 = {CHANCE_LOSS:.2f}")
    if log:
        ax.set_yscale("log")
    ax.set(title="training loss" + (" (log scale)" if log else ""), xlabel="step", ylabel="loss")
    return log


def _accuracy_panel(ax, runs) -> bool:
    arrays = [history.series(ACCURACY).array() for _, history in runs]
    log = bool(needs_log(*arrays) and not np.all(np.isfinite(np.concatenate(arrays))))
    for label, history in runs:
        series = history.series(ACCURACY)
        values = series.array()
        window = max(1, len(values) // 50)
        smooth = _smooth(values, window)
        ax.plot(np.asarray(series.steps)[window - 1:][:len(smooth)], smooth, lw=1, alpha=0.8,
                label=f"{label}: batch accuracy" + (f" (mean of {window})" if window > 1 else ""), **STYLE[label])
        test = history.val.get(ACCURACY)
        if test is not None and test.steps:
            ax.plot(test.steps, test.values, "o-", ms=4, lw=1.5, label=f"{label}: test accuracy", **STYLE[label])
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, 1)
    ax.set(title="accuracy", xlabel="step", ylabel="accuracy")
    return log


def curves(folder: Path, name: str, title: str, before: History, after: History | None) -> Figure:
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(WIDTH, HEIGHT + 1.6), layout="constrained")
    runs = _runs(before, after)
    log = (_loss_panel(loss_ax, runs), _accuracy_panel(acc_ax, runs))
    for ax in (loss_ax, acc_ax):
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False)
    caption = "Loss and accuracy, before and after the fix" + (" (loss on a log axis)" if log[0] else "")
    return _save(fig, plt, folder, name, log, caption, title)


def ladder(folder: Path, name: str, title: str, before: History, after: History | None,
           steps: tuple[int, int], names: dict[str, str]) -> Figure | None:
    """Each layer's kernel gradient norm at one step, input side first, on a log axis."""
    runs = _runs(before, after)
    ladders = [(label, *reversed(ladder_at(history, step))) for (label, history), step in zip(runs, steps)]
    layers = list(ladders[0][1])
    if not layers:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT), layout="constrained")
    x = np.arange(len(layers))
    for label, values, step in ladders:
        ys = np.array([values.get(layer, np.nan) for layer in layers])
        keep = np.isfinite(ys) & (ys > 0)
        ax.plot(x[keep], ys[keep], "o-", label=f"{label} (step {step})", **STYLE[label])
    ax.set_yscale("log")
    crowded = len(layers) > 6
    labels = [shown(layer, names) for layer in layers]
    ax.set_xticks(x, labels, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    ax.set(title="gradient norm of each layer's weights (log scale)", xlabel="layer (input side first)",
           ylabel="gradient L2 norm")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    caption = "Gradient-norm ladder: " + "; ".join(f"{label} at step {step}" for label, _, step in ladders)
    return _save(fig, plt, folder, name, (True,), caption, title)


def units(folder: Path, name: str, title: str, before: History, after: History | None, names: dict[str, str]) -> Figure | None:
    """Dead (ReLU) or saturated (sigmoid/tanh) fractions per layer, where any are seen."""
    runs = _runs(before, after)
    panels = []
    for prefix, what in ((DEAD_FRACTION, "dead units"), (SATURATED_FRACTION, "saturated outputs")):
        means = [(label, per_layer_mean(history, prefix)) for label, history in runs]
        if any(v > 0.1 for _, m in means for v in m.values()):  # a few units at 0 is normal
            panels.append((what, means))
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, HEIGHT), layout="constrained", squeeze=False)
    for ax, (what, means) in zip(axes[0], panels):
        layers = sorted({layer for _, m in means for layer in m}, key=layer_order)
        x = np.arange(len(layers))
        width = 0.8 / len(means)
        for i, (label, values) in enumerate(means):
            heights = [values.get(layer, 0.0) for layer in layers]
            ax.bar(x + i * width - 0.4 + width / 2, heights, width, label=label, **STYLE[label])
        ax.set_xticks(x, [shown(layer, names) for layer in layers], rotation=30 if len(layers) > 4 else 0)
        ax.set_ylim(0, 1)
        ax.set(title=f"{what} per layer (mean over the run)", ylabel="fraction")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, plt, folder, name, (False,) * len(panels), "Dead / saturated fractions per layer", title)


def inputs(folder: Path, name: str, title: str, grids: list[tuple[str, np.ndarray, dict[str, float]]]) -> Figure | None:
    """Rows of input images (one row per run: label, [k, h, w] in [0, 1], the batch's stats)."""
    grids = [g for g in grids if g[1] is not None and len(g[1])]
    if not grids:
        return None
    plt = _pyplot()
    columns = max(len(images) for _, images, _ in grids)
    fig = plt.figure(figsize=(WIDTH, 1.7 * len(grids) + 0.6), layout="constrained")
    for subfig, (label, images, stats) in zip(np.atleast_1d(fig.subfigures(len(grids), 1)), grids):
        detail = ", ".join(f"{k} {fmt(v)}" for k, v in stats.items())
        subfig.suptitle(f"{label}: {detail}" if detail else label, fontsize=FONT - 1)
        for ax, index in zip(np.atleast_1d(subfig.subplots(1, columns)), range(columns)):
            ax.set_axis_off()
            if index < len(images):
                ax.imshow(images[index], cmap="gray", vmin=0, vmax=1)
    caption = "The first input batch the model saw (each batch scaled to its own min..max)"
    return _save(fig, plt, folder, name, (False,), caption, title)

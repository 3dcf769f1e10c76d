"""Bonus experiments as presets: tanh vs ReLU over a long run, depth, initialisation.

A preset is data: a name, what it shows, and (variant label, RunConfig) pairs.
`run_preset` trains every variant, in parallel processes or one after another, into
<log_root>/experiments/<preset>/<time>/<variant>/ (train/ and val/ under each), so
TensorBoard pointed at the experiment folder overlays the variants as its runs.
`summarize` is pure: the variants' Histories in, a side-by-side text table out.
"""

from __future__ import annotations

import concurrent.futures as futures
import math
import multiprocessing
import queue
import textwrap
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.config import RunConfig
from core.history import OUTPUT_LAYER, History, Series, StepRecord, layer_order
from core.report import LN10, evidence, text_plot
from core.rundir import prepare_logdir

LEFT_CHANCE = 0.9 * LN10  # a loss this far below ln 10 means the net predicts better than guessing
WINDOW = 100  # steps averaged for a value "at" a point of the run
POLL_SECONDS = 0.2
STOPPED_EARLY = "stopped before it started"


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    shows: str  # what the experiment shows and why its settings were chosen, for the learner
    variants: tuple[tuple[str, RunConfig], ...]  # (label, config); the label names the run folder
    summary: Callable[[dict[str, History]], list[str]]  # the preset's own tables, from the histories


# --- the numbers that tell the story -------------------------------------------------


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
    return history.val.get("accuracy", Series()).last()


def hidden_layers(history: History) -> list[str]:
    return [layer for layer in history.layers() if layer != OUTPUT_LAYER]


def lost_units_tag(history: History) -> tuple[str, str] | None:
    """(tag prefix, name) of how the run's activation loses units: saturated (tanh, sigmoid) or dead (ReLU)."""
    for prefix, name in (("saturated_fraction", "saturated"), ("dead_fraction", "dead")):
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
    return window_width(min(len(h.series("loss")) for h in histories.values()))


def _common_rows(histories: dict[str, History]) -> list[list[str]]:
    evidences = {label: evidence(h) for label, h in histories.items()}
    return [
        ["test accuracy (end)"] + [fmt(final_test_accuracy(h)) for h in histories.values()],
        ["training loss, last 10% of steps"] + [fmt(e.final_loss) for e in evidences.values()],
        ["training loss at step 0"] + [fmt(e.first_loss) for e in evidences.values()],
        ["first non-finite step"] + [fmt(e.first_nonfinite_step) for e in evidences.values()],
        [f"step loss fell below {LEFT_CHANCE:.2f} (0.9 ln 10)"]
        + [fmt(first_step_below(h.series("loss"), LEFT_CHANCE, 20)) for h in histories.values()],
    ]


# --- one summary per preset ------------------------------------------------------------


def activation_summary(histories: dict[str, History]) -> list[str]:
    labels = list(histories)
    rows = _common_rows(histories)
    for threshold in (0.1, 0.01):
        rows.append([f"step loss (100-step mean) fell below {threshold}"]
                    + [fmt(first_step_below(h.series("loss"), threshold, WINDOW)) for h in histories.values()])
    out = ["", text_table(["", *labels], rows)]

    fractions = (0.0, 0.25, 0.5, 0.75, 1.0)
    lost_rows, header_steps = [], None
    for label, h in histories.items():
        lost = lost_units_tag(h)
        if lost is None:
            continue
        prefix, name = lost
        for layer in hidden_layers(h):
            tag = f"{prefix}/{layer}"
            header_steps = header_steps or [window(h.series(tag), f)[0] for f in fractions]
            lost_rows.append([f"{label} {layer} {name}"] + [fmt(mean_at(h, tag, f), "%") for f in fractions])
    if lost_rows:
        out += ["", f"Units lost over time (tanh: outputs within 1% of +-1; ReLU: units 0 for the whole batch),"
                " mean over each span of steps:", ""]
        out.append(text_table(["", *header_steps], lost_rows))

    moments = (("start", 0.0), ("middle", 0.5), ("end", 1.0))
    layers = max((h.layers() for h in histories.values()), key=len)
    header = [""] + [f"{label} {name}" for label in labels for name, _ in moments]
    grad_rows = []
    for layer in layers:
        grad_rows.append([layer] + [fmt(median_at(h, f"grad_norm/{layer}/kernel", f)) for h in histories.values() for _, f in moments])
    first, last = layers[0], layers[-1]
    grad_rows.append([f"ratio {first}/{last}"] + [
        fmt(ratio(median_at(h, f"grad_norm/{first}/kernel", f), median_at(h, f"grad_norm/{last}/kernel", f)), "x")
        for h in histories.values() for _, f in moments
    ])
    out += ["", f"Kernel gradient norm per layer, median of {_width(histories)} steps at the start, middle and end of the run:", "",
            text_table(header, grad_rows)]
    return out


def depth_summary(histories: dict[str, History]) -> list[str]:
    labels = list(histories)
    rows = _common_rows(histories)
    rows.append([f"update/weight ratio of dense_1, first {_width(histories)} steps"]
                + [fmt(median_at(h, "update_ratio/dense_1/kernel", 0.0)) for h in histories.values()])
    out = ["", text_table(["", *labels], rows)]
    layers = sorted({l for h in histories.values() for l in h.layers()}, key=layer_order)
    for part, what in (("kernel", "kernel gradient norm"), ("bias", "bias gradient norm (the back-propagated error summed over the batch)")):
        ladder = [[layer] + [fmt(median_at(h, f"grad_norm/{layer}/{part}", 0.0)) if layer in h.layers() else ""
                             for h in histories.values()] for layer in layers]
        ladder.append(["ratio dense_1/output"] + [
            fmt(ratio(median_at(h, f"grad_norm/dense_1/{part}", 0.0), median_at(h, f"grad_norm/{OUTPUT_LAYER}/{part}", 0.0)), "x")
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
        ["kernel gradient norm at step 0, dense_1"] + [fmt(at_zero(h, "grad_norm/dense_1/kernel")) for h in histories.values()],
        ["kernel gradient norm at step 0, output"] + [fmt(at_zero(h, f"grad_norm/{OUTPUT_LAYER}/kernel")) for h in histories.values()],
        ["std of the last hidden layer's outputs at step 0"]
        + [fmt(at_zero(h, f"activation_std/{hidden_layers(h)[-1]}") if hidden_layers(h) else math.nan) for h in histories.values()],
    ]
    out = ["", text_table(["", *labels], rows)]
    layers = sorted({l for h in histories.values() for l in hidden_layers(h)}, key=layer_order)
    diverged = {label for label, h in histories.items() if evidence(h).first_nonfinite_step is not None}

    def dead_at_end(label: str, h: History, layer: str) -> str:
        if f"dead_fraction/{layer}" not in h.train:
            return ""
        # NaN pre-activations compare False with 0: a diverged net would look fully alive.
        return "-" if label in diverged else fmt(tail_mean(h.series(f"dead_fraction/{layer}")), "%")

    dead = [[layer] + [dead_at_end(label, h, layer) for label, h in histories.items()] for layer in layers]
    dead.append(["all hidden layers, at step 0"] + [
        fmt(np.mean([at_zero(h, f"dead_fraction/{l}") for l in hidden_layers(h)]) if hidden_layers(h) else math.nan, "%")
        for h in histories.values()
    ])
    out += ["", "Dead ReLU units (0 for the whole batch) per layer, mean over the last 10% of steps"
            " ('-': the net was non-finite by then):", "", text_table(["", *labels], dead)]
    return out


def summarize(preset: Preset, histories: dict[str, History], *, plots: bool = True) -> str:
    """The preset's side-by-side summary of the variants' Histories, in variant order."""
    ordered = {label: histories[label] for label, _ in preset.variants if label in histories}
    ordered |= {label: h for label, h in histories.items() if label not in ordered}
    if not ordered:
        return f"{preset.title}: no variant produced a history\n"
    any_history = next(iter(ordered.values()))
    steps = {label: h.last_step() + 1 for label, h in ordered.items()}
    out = [
        f"{preset.title} ({preset.name})",
        "",
        *textwrap.wrap(preset.shows, 100),
        "",
        f"data: {any_history.meta.get('data_source', 'unknown')}; steps: "
        + ", ".join(f"{label} {n}" for label, n in steps.items()),
    ]
    out += preset.summary(ordered)
    if plots:
        out += ["", *loss_plot(ordered)]
    return "\n".join(out) + "\n"


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
            shown[label] = block_means(h.series("loss"), transform=np.log10 if long_run else None)
    if not shown:
        return notes
    # plotext drops a title wider than the plot; the legend in the corner names the markers.
    title = f"{'log10 ' if long_run else ''}training loss per variant (block means)"
    return [text_plot(title, shown), *(f"({note})" for note in notes)]


# --- the presets -----------------------------------------------------------------------

CLASSIC_INIT = "uniform(-0.1,0.1)"  # the handout's (and fails/baseline.py's) initialiser

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="tanh-vs-relu",
            title="tanh vs ReLU over a long run",
            shows=(
                "One net (4 hidden layers of 100, SGD lr 0.1, 10000 steps) with each activation's matching "
                "initialiser: Glorot for tanh, He for ReLU, so only the activation differs. Compare how fast the "
                "loss falls, how many units each activation loses over time (tanh outputs pinned near +-1, where "
                "its slope is < 4% of its peak; ReLU units at 0 for a whole batch, with no slope at all), and how "
                "the gradient is shared between the layers (the dense_1/output ratio) as training goes on."
            ),
            variants=(
                ("tanh", RunConfig(hidden_layers=4, activation="tanh", init="glorot", steps=10000)),
                ("relu", RunConfig(hidden_layers=4, activation="relu", init="he", steps=10000)),
            ),
            summary=activation_summary,
        ),
        Preset(
            name="depth",
            title="Depth: the per-layer gradient ladder",
            shows=(
                "2, 4 and 8 ReLU layers of 100 units with the classic U(-0.1,0.1) init, SGD lr 0.1. That init has "
                "variance 0.1^2/3, so each 100-unit ReLU layer scales the signal by sqrt(100 x 0.0033 / 2) ~ 0.4, "
                "forwards and backwards: the back-propagated error (the bias gradients) shrinks ~2.4x per layer "
                "towards the input, a ladder you can read off the table. The kernel gradient (activation below x "
                "error above) multiplies a shrinking forward signal by a growing backward one, so its ladder is "
                "nearly flat; but its whole level drops with depth, so the 8-layer net barely moves at first and "
                "leaves the ln 10 plateau last. With He init the ladder flattens (see the init experiment)."
            ),
            variants=tuple(
                (f"{n}-layers", RunConfig(hidden_layers=n, activation="relu", init=CLASSIC_INIT, steps=2000))
                for n in (2, 4, 8)
            ),
            summary=depth_summary,
        ),
        Preset(
            name="init",
            title="Initialisation of an 8-layer ReLU net",
            shows=(
                "The same 8-layer ReLU net (SGD lr 0.1) from five starting points: zeros (every unit identical and "
                "0: no gradient reaches any kernel), small U(-0.01,0.01) (the signal shrinks ~25x per layer and "
                "is gone before the output), Glorot (variance 2/(in+out): shrinks ~1.4x per ReLU layer), He "
                "(variance 2/in: keeps the scale through ReLU layers) and large U(-0.4,0.4) (fail1's: grows "
                "~1.6x per layer, huge logits, non-finite within a few steps)."
            ),
            variants=tuple(
                (label, RunConfig(hidden_layers=8, activation="relu", init=init, steps=2000))
                for label, init in (
                    ("zeros", "zeros"), ("small", "uniform(-0.01,0.01)"), ("glorot", "glorot"),
                    ("he", "he"), ("large", "uniform(-0.4,0.4)"),
                )
            ),
            summary=init_summary,
        ),
    )
}


# --- running a preset ------------------------------------------------------------------


@dataclass(frozen=True)
class VariantJob:
    preset: str
    label: str
    config: RunConfig
    logdir: str
    data_path: str | None = None
    data: object = None  # a core.mnist.Mnist handed over as is (tests); else loaded from data_path


@dataclass
class VariantOutcome:
    label: str
    logdir: str
    test_accuracy: float = math.nan
    steps_done: int = 0
    seconds: float = math.nan
    stopped: bool = False
    error: str = ""
    history: History | None = field(default=None, repr=False)


@dataclass
class ExperimentResult:
    preset: Preset
    folder: Path  # point TensorBoard here: one run per variant
    outcomes: list[VariantOutcome]

    def histories(self) -> dict[str, History]:
        return {o.label: o.history for o in self.outcomes if o.history is not None and o.steps_done}


def histories_from_folder(folder: str | Path) -> dict[str, History]:
    """An experiment folder's variants read back from their event files, keyed by run folder
    name (e.g. to summarise an earlier experiment). Raises core.events.LogError."""
    from core.events import find_runs, read_run

    folder = Path(folder)
    return {run.relative_to(folder).as_posix(): read_run(run) for run in find_runs(folder)}


def experiment_folder(log_root: str | Path, preset: str) -> Path:
    """<root>/experiments/<preset>/<time>: a fresh folder, so a re-run never appends to old runs."""
    base = Path(log_root) / "experiments" / preset / time.strftime("%Y%m%d-%H%M%S")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


ProgressCallback = Callable[[str, StepRecord], None]


def run_variant(job: VariantJob, data=None, on_progress: ProgressCallback | None = None,
                progress_every: int = 100, stop=None) -> VariantOutcome:
    """Train one variant; a crash becomes an outcome with its error, never an exception."""
    if stop is not None and stop.is_set():  # also catches a job the pool had queued before the stop
        return VariantOutcome(job.label, job.logdir, stopped=True, error=STOPPED_EARLY)
    started = time.perf_counter()
    try:
        from core.mnist import load_mnist
        from core.train import train

        if data is None:
            data = job.data if job.data is not None else load_mnist(job.data_path)
        last = job.config.steps - 1

        def on_step(record: StepRecord) -> None:
            if on_progress is not None and (record.step % progress_every == 0 or record.step == last):
                on_progress(job.label, record)

        result = train(job.config, data=data, logdir=job.logdir, run_name=f"{job.preset}/{job.label}", on_step=on_step, stop=stop)
        return VariantOutcome(
            job.label, job.logdir, result.test_accuracy, result.steps_done, time.perf_counter() - started,
            result.stopped, history=result.history,
        )
    except Exception as error:  # one broken variant is a row, not a dead experiment
        last_line = traceback.format_exception_only(error)[-1].strip()
        return VariantOutcome(job.label, job.logdir, seconds=time.perf_counter() - started, error=last_line)


def run_preset(
    preset: Preset,
    *,
    steps: int | None = None,
    jobs: int = 2,
    log_root: str | Path = "logs",
    data_path: str | None = None,
    data=None,
    on_variant: Callable[[VariantOutcome], None] | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 100,
    stop=None,
) -> ExperimentResult:
    """Train every variant: in `jobs` spawned processes, or in this process when jobs is 1.

    on_progress(label, record) gets every `progress_every`-th step of each variant;
    on_variant(outcome) each finished variant; `stop` (a threading.Event) ends the
    running variants at their next step and skips the rest. Raises RunError when the
    experiment folder cannot be written and ValueError for steps < 1; everything after
    that (bad data, a crashing run) becomes an outcome's error.
    """
    configs = [(label, config if steps is None else config.replace(steps=steps)) for label, config in preset.variants]
    folder = prepare_logdir(experiment_folder(log_root, preset.name))
    job_list = [VariantJob(preset.name, label, config, str(folder / label), data_path, data) for label, config in configs]
    if jobs <= 1 or len(job_list) == 1:
        outcomes = _run_here(job_list, data, on_variant, on_progress, progress_every, stop)
    else:
        outcomes = _run_in_processes(job_list, jobs, on_variant, on_progress, progress_every, stop)
    return ExperimentResult(preset, folder, outcomes)


def _run_here(job_list, data, on_variant, on_progress, progress_every, stop) -> list[VariantOutcome]:
    outcomes = []
    if data is None and job_list:
        from core.mnist import DataError, load_mnist

        try:
            data = load_mnist(job_list[0].data_path)  # once, not once per variant
        except DataError as error:
            data_error = str(error)
            return [_finish(VariantOutcome(j.label, j.logdir, error=data_error), on_variant) for j in job_list]
    for job in job_list:
        outcomes.append(_finish(run_variant(job, data, on_progress, progress_every, stop), on_variant))
    return outcomes


def _finish(outcome: VariantOutcome, on_variant) -> VariantOutcome:
    if on_variant is not None:
        on_variant(outcome)
    return outcome


# Set in each worker process by _worker_init (spawned processes share nothing else).
_progress_queue = None
_stop_event = None
_progress_every = 100


def _worker_init(progress_queue, stop_event, progress_every: int) -> None:
    """One TensorFlow thread per worker, so J workers on J cores do not fight over them."""
    global _progress_queue, _stop_event, _progress_every
    _progress_queue, _stop_event, _progress_every = progress_queue, stop_event, progress_every
    from core.tfquiet import import_tensorflow_quietly

    import_tensorflow_quietly(threads=1)


def _run_in_worker(job: VariantJob) -> VariantOutcome:
    return run_variant(job, None, lambda label, record: _progress_queue.put((label, record)), _progress_every, _stop_event)


def _run_in_processes(job_list, workers, on_variant, on_progress, progress_every, stop) -> list[VariantOutcome]:
    context = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
    progress = context.Queue()
    worker_stop = context.Event()
    outcomes: dict[int, VariantOutcome] = {}

    def drain() -> None:
        while True:
            try:
                label, record = progress.get_nowait()
            except queue.Empty:
                return
            if on_progress is not None:
                on_progress(label, record)

    pool = futures.ProcessPoolExecutor(
        min(workers, len(job_list)), mp_context=context, initializer=_worker_init,
        initargs=(progress, worker_stop, progress_every),
    )
    try:
        submitted = {pool.submit(_run_in_worker, job): index for index, job in enumerate(job_list)}
        waiting = set(submitted)
        while waiting:
            done, waiting = futures.wait(waiting, timeout=POLL_SECONDS, return_when=futures.FIRST_COMPLETED)
            drain()
            if stop is not None and stop.is_set() and not worker_stop.is_set():
                worker_stop.set()  # running variants stop at their next step
                for future in waiting:
                    future.cancel()  # queued ones never start
            for future in done:
                job = job_list[submitted[future]]
                if future.cancelled():
                    outcome = VariantOutcome(job.label, job.logdir, stopped=True, error=STOPPED_EARLY)
                elif future.exception() is not None:  # the worker process itself died
                    outcome = VariantOutcome(job.label, job.logdir, error=f"worker process died: {future.exception()}")
                else:
                    outcome = future.result()
                drain()  # this variant's last progress before its outcome
                outcomes[submitted[future]] = _finish(outcome, on_variant)
    except BaseException:
        worker_stop.set()  # Ctrl-C: close the event files cleanly in every worker
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    drain()
    return [outcomes[i] for i in range(len(job_list))]

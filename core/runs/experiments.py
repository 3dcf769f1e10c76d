"""Bonus experiments as presets: tanh vs ReLU over a long run, depth, initialisation.

A preset is data: a name, what it shows, and (variant label, RunConfig) pairs.
`run_preset` trains every variant, in parallel processes or one after another, into
<log_root>/experiments/<preset>/<time>/<variant>/ (train/ and val/ under each), so
TensorBoard pointed at the experiment folder overlays the variants as its runs.
`summarize` is pure: the variants' Histories in, a side-by-side text table out.
"""

from __future__ import annotations

import math
import queue
import textwrap
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.runs.experiment_summary import activation_summary, depth_summary, init_summary, loss_plot
from core.schema.config import RunConfig
from core.schema.history import History, StepRecord
from core.system.rundir import claim_fresh_folder, prepare_logdir

STOPPED_EARLY = "stopped before it started"


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    shows: str  # what the experiment shows and why its settings were chosen, for the learner
    variants: tuple[tuple[str, RunConfig], ...]  # (label, config); the label names the run folder
    summary: Callable[[dict[str, History]], list[str]]  # the preset's own tables, from the histories


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
        f"data: {any_history.facts.data_source or 'unknown'}; steps: "
        + ", ".join(f"{label} {n}" for label, n in steps.items()),
    ]
    out += preset.summary(ordered)
    if plots:
        out += ["", *loss_plot(ordered)]
    return "\n".join(out) + "\n"


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
    data: object = None  # a core.data.mnist.Mnist handed over as is (tests); else loaded from data_path


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
    name (e.g. to summarise an earlier experiment). Raises core.tensorboard.reader.LogError."""
    from core.tensorboard.reader import find_runs, read_run

    folder = Path(folder)
    return {run.relative_to(folder).as_posix(): read_run(run) for run in find_runs(folder)}


def experiment_folder(log_root: str | Path, preset: str) -> Path:
    """<root>/experiments/<preset>/<time>: a fresh folder, so a re-run never appends to old runs."""
    return claim_fresh_folder(Path(log_root) / "experiments" / preset / time.strftime("%Y%m%d-%H%M%S"))


ProgressCallback = Callable[[str, StepRecord], None]


def run_variant(job: VariantJob, data=None, on_progress: ProgressCallback | None = None,
                progress_every: int = 100, stop=None) -> VariantOutcome:
    """Train one variant; a crash becomes an outcome with its error, never an exception."""
    if stop is not None and stop.is_set():  # also catches a job the pool had queued before the stop
        return VariantOutcome(job.label, job.logdir, stopped=True, error=STOPPED_EARLY)
    started = time.perf_counter()
    try:
        from core.data.mnist import load_mnist
        from core.runs.recipe import record_run

        if data is None:
            data = job.data if job.data is not None else load_mnist(job.data_path)
        last = job.config.steps - 1

        def on_step(record: StepRecord) -> None:
            if on_progress is not None and (record.step % progress_every == 0 or record.step == last):
                on_progress(job.label, record)

        result = record_run(job.config, data=data, logdir=job.logdir, run_name=f"{job.preset}/{job.label}", on_step=on_step, stop=stop)
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
        from core.data.mnist import DataError, load_mnist

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
_progress_every = 100


def _worker_init(progress_queue, progress_every: int) -> None:
    global _progress_queue, _progress_every
    _progress_queue, _progress_every = progress_queue, progress_every


def _run_in_worker(job: VariantJob) -> VariantOutcome:
    from core.runs.pool import worker_stop

    return run_variant(job, None, lambda label, record: _progress_queue.put((label, record)), _progress_every, worker_stop())


def _run_in_processes(job_list, workers, on_variant, on_progress, progress_every, stop) -> list[VariantOutcome]:
    """The variants on the shared pool (core.runs.pool): `stop` or Ctrl-C ends it within a couple
    of seconds, running variants closing their event files at their next step."""
    from core.runs.pool import run_in_pool, spawn_context

    progress = spawn_context().Queue()
    outcomes: dict[int, VariantOutcome] = {}

    def drain() -> None:
        while True:
            try:
                label, record = progress.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            if on_progress is not None:
                on_progress(label, record)

    def finished(index: int, outcome: VariantOutcome) -> None:
        drain()  # this variant's last progress before its outcome
        outcomes[index] = _finish(outcome, on_variant)

    try:
        pool_run = run_in_pool(
            _run_in_worker, job_list, workers, on_result=finished, poll=drain, stop=stop,
            initializer=_worker_init, initargs=(progress, progress_every),
        )
    except KeyboardInterrupt:
        drain()
        raise
    drain()
    for index, job in enumerate(job_list):
        if index not in outcomes:
            died = pool_run.died.get(index)
            outcome = VariantOutcome(job.label, job.logdir, error=f"worker process died: {died}") if died else \
                VariantOutcome(job.label, job.logdir, stopped=True, error=STOPPED_EARLY)
            outcomes[index] = _finish(outcome, on_variant)
    return [outcomes[i] for i in range(len(job_list))]

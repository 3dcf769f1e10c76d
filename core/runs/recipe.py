"""The one run recipe: a scenario's config with fixes and overrides, then training with its
events handed to the caller's sinks, the TensorBoard sink first when there is a log folder.

`tblab run`, the sweep, the experiments, the doctor's verify and the lab all start runs
through here, so a run means the same thing wherever it was started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.data.mnist import Mnist
from core.schema.config import RunConfig
from core.schema.events import consume
from core.schema.fixes import apply_fixes
from core.schema.history import StepRecord
from core.system.rundir import prepare_logdir


def configure(base: RunConfig, fixes: Iterable[str] = (), *, steps: int | None = None, seed: int | None = None) -> RunConfig:
    """`base` with the named fixes applied, then the caller's overrides. Raises ValueError."""
    config = apply_fixes(base, fixes)
    overrides = {name: value for name, value in (("steps", steps), ("seed", seed)) if value is not None}
    return config.replace(**overrides) if overrides else config


def record_run(
    config: RunConfig,
    *,
    data: Mnist,
    logdir: str | Path | None = None,
    run_name: str = "",
    on_step: Callable[[StepRecord], None] | None = None,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
    on_images: Callable[[int, np.ndarray], None] | None = None,
    stop: threading.Event | None = None,
    steps_per_call: int | None = None,
):
    """Train `config` on `data` (core.train.loop.RunResult), handing its records to plain
    callbacks; with a `logdir`, the run is also written there for TensorBoard. Raises
    RunError for a log folder that cannot be written. `steps_per_call` fixes K, the steps
    per compiled call (default: adapted to the step time)."""
    from core.train.loop import Callbacks

    images = None if on_images is None else (lambda snapshot: on_images(snapshot.step, snapshot.images))
    return run_scenario(config, data=data, logdir=logdir, run_name=run_name, sinks=[Callbacks(on_step, images, on_eval)],
                        snapshots=on_images is not None, stop=stop, steps_per_call=steps_per_call)


def run_scenario(
    config: RunConfig,
    *,
    data: Mnist,
    sinks: Sequence[object],
    logdir: str | Path | None = None,
    run_name: str = "",
    snapshots: bool = False,
    stop: threading.Event | None = None,
    steps_per_call: int | None = None,
):
    """Train `config` on `data`, its events handed to `sinks` (core/schema/events.py) and,
    with a `logdir`, first to a TensorBoardSink writing them there; returns the RunResult
    (its logdir set). Snapshots are computed for the TensorBoard writer, or when asked for.
    Raises RunError for a log folder that cannot be written."""
    # Imported here, not at the top: TensorFlow loads with it, and `tblab run` checks its
    # arguments and the lab draws its first frame before that.
    from core.tensorboard.sink import TensorBoardSink
    from core.train.loop import run_events

    board = None
    if logdir is not None:
        logdir = prepare_logdir(logdir)
        board = TensorBoardSink(logdir, image_every=config.image_every)
    events = run_events(config, data=data, run_name=run_name, snapshots=snapshots or board is not None, stop=stop,
                        steps_per_call=steps_per_call)
    try:
        result = consume(events, [sink for sink in (board, *sinks) if sink is not None])
    finally:
        if board is not None:
            board.close()
    return replace(result, logdir=logdir) if logdir is not None else result

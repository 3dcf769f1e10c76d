"""The one run recipe: a scenario's config with fixes and overrides, then training with the
TensorBoard sink attached when there is a log folder.

`tblab run`, the sweep, the experiments, the doctor's verify and the lab all start runs
through here, so a run means the same thing wherever it was started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.data.mnist import Mnist
from core.schema.config import RunConfig
from core.schema.fixes import apply_fixes
from core.schema.history import StepRecord
from core.system.rundir import prepare_logdir


def configure(base: RunConfig, fixes: Iterable[str] = (), *, steps: int | None = None, seed: int | None = None) -> RunConfig:
    """`base` with the named fixes applied, then the caller's overrides. Raises ValueError."""
    config = apply_fixes(base, fixes)
    overrides = {name: value for name, value in (("steps", steps), ("seed", seed)) if value is not None}
    return config.replace(**overrides) if overrides else config


def fanout(*callbacks: Callable | None) -> Callable | None:
    """One callback that calls each given one in order (None when none is given)."""
    present = [c for c in callbacks if c is not None]
    if len(present) < 2:
        return present[0] if present else None

    def call_all(*args):
        for callback in present:
            callback(*args)

    return call_all


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
    """Train `config` on `data` (core.train.loop.RunResult); with a `logdir`, the run is also
    written there for TensorBoard. Raises RunError for a log folder that cannot be written.
    `steps_per_call` fixes K, the steps per compiled call (default: adapted to the step time)."""
    # Imported here, not at the top: TensorFlow loads with it, and `tblab run` checks its
    # arguments and the lab draws its first frame before that.
    from core.tensorboard.sink import TensorBoardSink
    from core.train.loop import scenario_facts, train

    images = None if on_images is None else (lambda snapshot: on_images(snapshot.step, snapshot.images))
    if logdir is None:
        return train(
            config, data=data, run_name=run_name, on_step=on_step, on_snapshot=images, on_eval=on_eval, stop=stop,
            steps_per_call=steps_per_call,
        )
    logdir = prepare_logdir(logdir)
    # A full disk mid-run stops the run (its steps so far are kept and the run ends as usual,
    # with result.log_error saying why); a caller's own stop event is the one set.
    stop = stop if stop is not None else threading.Event()
    sink = TensorBoardSink(logdir, scenario_facts(config, data, run_name), image_every=config.image_every,
                           on_failure=lambda error: stop.set())
    try:
        result = train(
            config, data=data, run_name=run_name, stop=stop, steps_per_call=steps_per_call,
            on_step=fanout(sink.on_step, on_step),
            on_snapshot=fanout(sink.on_snapshot, images),
            on_eval=fanout(sink.on_eval, on_eval),
        )
    finally:
        sink.close()
    return replace(result, logdir=logdir, log_error=str(sink.failure or ""))

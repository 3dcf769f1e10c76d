"""Several runs written into one folder (a notebook cell run again): read as TensorBoard shows
them, the latest run's values replacing the earlier ones from the step it restarts at, and the
tags only an earlier run wrote left out, so the doctor diagnoses the run the user just made."""

from __future__ import annotations

import numpy as np

from core.tensorboard.reading.decode import RawHalf, RawScalars
from core.tensorboard.reading.names import few


def latest_run(steps: list[int]) -> tuple[list[int], int] | None:
    """The indices of the values TensorBoard keeps when a tag's steps go back (its purge of
    orphaned data: a value at step s written after a higher step drops every earlier value at a
    step >= s), and the index of the last value that went back. None when none does."""
    if len(steps) < 2 or not (np.diff(np.asarray(steps, dtype=np.int64)) < 0).any():
        return None
    kept: list[int] = []
    restart = 0
    for index, step in enumerate(steps):
        if kept and step < steps[kept[-1]]:
            kept = [i for i in kept if steps[i] < step]
            restart = index
        kept.append(index)
    return kept, restart


def keep_latest_runs(half: str, raw: RawHalf) -> None:
    """Per tag of one half, keep what TensorBoard shows after its steps went back."""
    restarted = []
    for tag, series in raw.scalars.items():
        run = latest_run(series.steps)
        if run is not None:
            keep, restart = run
            restarted.append(tag)
            raw.restarts.append(series.wall_times[restart])
            columns = (series.steps, series.wall_times, series.values)
            raw.scalars[tag] = RawScalars(*([column[i] for i in keep] for column in columns))
    for tag, snaps in raw.histograms.items():
        run = latest_run([snap.step for snap in snaps])
        if run is not None:
            raw.histograms[tag] = [snaps[i] for i in run[0]]
    if restarted:
        raw.warnings.append(
            f"{half}: steps go back in {few(sorted(restarted))} (a restart, or several runs written to one folder): "
            "read as TensorBoard shows them, the values written last replace the earlier ones from the step they restart at"
        )


def drop_earlier_runs(halves: dict[str, RawHalf]) -> None:
    """After a restart, the tags only an earlier run wrote (its other layers, say): every value
    written before the latest run began. That run begins at the earliest of the tags' last
    restarts (they restart within one step of each other)."""
    restarts = [time for raw in halves.values() for time in raw.restarts]
    if not restarts:
        return
    began = min(restarts)
    for raw in halves.values():
        stale = [tag for tag, series in raw.scalars.items() if max(series.wall_times) < began]
        stale += [tag for tag, snaps in raw.histograms.items() if max(snap.wall_time for snap in snaps) < began]
        for tag in stale:
            raw.scalars.pop(tag, None)
            raw.histograms.pop(tag, None)
        if stale:
            raw.warnings.append(f"left out {few(sorted(stale))}: only an earlier run in this folder wrote them")

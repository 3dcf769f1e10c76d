"""Keras' TensorBoard callback, read as the run it was: epoch-stepped values placed at
iterations, batch_* running means turned back into per-batch values, layers in model order."""

from __future__ import annotations

import numpy as np

from core.schema.history import History
from core.tensorboard import tag_styles
from core.tensorboard.layers import deaverage_running_means, steps_per_epoch
from core.tensorboard.reading.decode import RawHalf


def iteration_marks(halves: dict[str, RawHalf]) -> list[tuple[float, int]]:
    """(wall time, iteration) of every Keras value stepped by iteration, from both halves."""
    marks = []
    for raw in halves.values():
        for tag, written in raw.scalars.items():
            if tag_styles.is_keras_iteration_mark(tag):
                marks.extend(zip(written.wall_times, written.steps))
    return marks


def deaverage_batches(history: History, marks: list[tuple[float, int]], train: RawHalf) -> None:
    """Keras logs batch_<metric> as the running mean over the epoch so far: turn train loss and
    accuracy back into per-batch values (see core/tensorboard/layers.py), so they stop lagging."""
    epoch_ends = sorted({step for tag, written in train.scalars.items() if tag.startswith("epoch_")
                         for step in tag_styles.place_at_iterations(written.wall_times, marks)})
    period = steps_per_epoch(epoch_ends)
    found = {tag: history.train[tag] for tag in ("loss", "accuracy") if tag in history.train}
    if period is not None:
        per_batch = {tag: deaverage_running_means(s.steps, s.values, period) for tag, s in found.items()}
        # A wrong epoch length gives impossible values (an accuracy outside [0, 1]): keep the means then.
        accuracy = np.asarray(per_batch.get("accuracy", []), dtype=np.float64)
        accuracy = accuracy[np.isfinite(accuracy)]
        if accuracy.size == 0 or (accuracy.min() >= -0.01 and accuracy.max() <= 1.01):
            for tag, values in per_batch.items():
                # k * m_k - (k - 1) * m_(k-1) carries float32 rounding x k: keep accuracies in [0, 1].
                found[tag].values = list(np.clip(values, 0.0, 1.0)) if tag == "accuracy" else values
            history.facts = history.facts.but(deaveraged=f"loss, accuracy (Keras running means over {period}-batch epochs)")
            return
    # Left as running means over the epoch so far: they lag the test-set values early in each epoch.
    history.facts = history.facts.but(running_means=tuple(found))


def layer_order(history: History) -> list[str]:
    """Layer names in the order Keras wrote their histograms (model.layers order): Keras'
    default names (dense, dense_1, ...) do not sort into that order."""
    layers: list[str] = []
    for name in history.histograms:  # dicts keep insertion order = first write order per tag
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "weights" and parts[1] not in layers:
            layers.append(parts[1])
    return layers

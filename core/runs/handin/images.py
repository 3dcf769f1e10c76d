"""The input images a run logged (TensorBoard's image plugin: a string tensor
[width, height, png, ...]), read back from its event files for the hand-in's grid."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from core.schema.tags import INPUT_IMAGES


def _pngs(value) -> list[bytes]:
    if value.HasField("image"):
        return [value.image.encoded_image_string]
    return list(value.tensor.string_val[2:])


def _values(logdir: str | Path, tag: str):
    """Each summary value with this tag, oldest file first."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        try:
            for event in EventFileLoader(str(path)).Load():
                for value in event.summary.value:
                    if value.tag == tag:
                        yield value
        except Exception:  # a truncated or foreign file: nothing from it, not a broken report
            continue


def first_images(logdir: str | Path, limit: int = 8) -> np.ndarray | None:
    """[k, h, w] floats in [0, 1]: the first logged input batch of the run, None if it logged none."""
    from matplotlib import image as mpimg

    for value in _values(logdir, INPUT_IMAGES):
        try:
            pictures = [mpimg.imread(io.BytesIO(png), format="png") for png in _pngs(value)[:limit]]
        except (OSError, ValueError):
            continue
        if pictures:
            return np.stack([p if p.ndim == 2 else p[..., 0] for p in pictures])
    return None

"""A watched script's record stream written as tblab's own runs write theirs: scalars,
histograms and input images in <logdir>/train, test values in <logdir>/val, the config and
data source as text. Kept small and in one place so it can merge with the record-stream
sink being extracted from core.train (the same event-file helpers, the same tags).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.eventfile import EventFile
from core.history import StepRecord
from core.rundir import prepare_logdir
from core.summaries import ScalarBlock, display_images, histograms_summary, images_summary, text_summary


class RecordSink:
    def __init__(self, logdir: str | Path):
        self.logdir = prepare_logdir(logdir)
        self.train = EventFile(self.logdir / "train")
        self.val = EventFile(self.logdir / "val")
        # One ScalarBlock per tag set and file (Keras probe steps add tags); each writes the
        # scalar metadata with its first event.
        self._blocks: dict[tuple, ScalarBlock] = {}
        self._dropped = ScalarBlock(["nonfinite/histogram_dropped"])

    def _block(self, file: str, names: tuple[str, ...]) -> ScalarBlock:
        block = self._blocks.get((file, names))
        if block is None:
            block = self._blocks[(file, names)] = ScalarBlock(list(names))
        return block

    def text(self, texts: dict[str, str]) -> None:
        self.train.write(0, text_summary(texts))

    def step(self, record: StepRecord) -> None:
        names = tuple(record.scalars)
        self.train.write(record.step, self._block("train", names).serialise(list(record.scalars.values())))

    def eval(self, step: int, scalars: dict[str, float]) -> None:
        names = tuple(scalars)
        self.val.write(step, self._block("val", names).serialise(list(scalars.values())))

    def histograms(self, step: int, tags: list[str], buckets: np.ndarray, dropped: float) -> None:
        self.train.write(step, histograms_summary(tags, buckets))
        self.train.write(step, self._dropped.serialise([dropped]))

    def images(self, step: int, pixels: np.ndarray) -> None:
        import tensorflow as tf

        self.train.write(step, images_summary("input/images", display_images(tf.constant(pixels)).numpy()))

    def close(self) -> None:
        self.train.close()
        self.val.close()

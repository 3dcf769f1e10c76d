"""TensorBoardSink: a sink of the run event stream that writes it as TensorBoard event files.

<logdir>/train gets the run's facts as text tags (RunFacts.texts, read back by
core/tensorboard/reader.py), every step's scalars, the histogram snapshots and the input
images; <logdir>/val gets the test-set evaluations under the same tags, so TensorBoard
overlays train and test. The files are opened at RunStarted. It does not care who
produced the events: a tblab run, or a watched script.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.schema import tags
from core.schema.events import Eval, RunStarted, Step
from core.schema.history import Snapshot
from core.tensorboard.eventfile import EventFile
from core.tensorboard.summaries import HistogramBlock, ScalarBlock, TensorBlock, images_summary, text_summary


def display_images(images: np.ndarray) -> np.ndarray:
    """[k, 28, 28] inputs as [k, 28, 28, 1] in [0, 1], min-max scaled over the batch so that
    raw 0-255 pixels, standardised pixels and noise all stay visible as they are."""
    finite = np.where(np.isfinite(images), images, 0.0).astype(np.float32)
    low, high = float(finite.min(initial=0.0)), float(finite.max(initial=0.0))
    scaled = (finite - low) / (high - low) if high > low else np.zeros_like(finite)
    return scaled[..., None]


class TensorBoardSink:
    """Event files for one run (a sink: see core/schema/events.py); close() when it ends."""

    def __init__(self, logdir: str | Path, image_every: int = 500):
        self.logdir = Path(logdir)
        self.image_every = image_every
        self._train: EventFile | None = None
        self._val: EventFile | None = None
        # One block per tag layout: a watched script's light and full steps differ.
        self._blocks: dict[tuple[str, tuple[str, ...]], TensorBlock] = {}
        self._dropped = ScalarBlock([tags.NONFINITE_HISTOGRAM_DROPPED])

    def on_started(self, event: RunStarted) -> None:
        self._train = EventFile(self.logdir / "train")
        self._val = EventFile(self.logdir / "val")
        self._train.write(0, text_summary(event.facts.texts()))

    def on_step(self, event: Step) -> None:
        record = event.record
        block = self._block("train", tuple(record.scalars), ScalarBlock)
        self._train.write(record.step, block.serialise(np.fromiter(record.scalars.values(), np.float32)))

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.histograms:
            buckets = np.stack(list(snapshot.histograms.values()))
            kind = f"histograms of {buckets.shape[1]} buckets"
            block = self._block(kind, tuple(snapshot.histograms), lambda names: HistogramBlock(names, buckets.shape[1]))
            self._train.write(snapshot.step, block.serialise(buckets))
        self._train.write(snapshot.step, self._dropped.serialise([snapshot.dropped]))
        if snapshot.images is not None and snapshot.step % self.image_every == 0:
            self._train.write(snapshot.step, images_summary(tags.INPUT_IMAGES, display_images(snapshot.images)))

    def on_eval(self, event: Eval) -> None:
        block = self._block("val", tuple(event.scalars), ScalarBlock)
        self._val.write(event.step, block.serialise(list(event.scalars.values())))

    def _block(self, kind: str, names: tuple[str, ...], make: Callable[[list[str]], TensorBlock]) -> TensorBlock:
        """The block for this tag layout of this kind (train or val scalars, histograms), made once."""
        block = self._blocks.get((kind, names))
        if block is None:
            block = self._blocks[(kind, names)] = make(list(names))
        return block

    def close(self) -> None:
        for events in (self._train, self._val):
            if events is not None:
                events.close()

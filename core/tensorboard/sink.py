"""TensorBoardSink: a consumer of the record stream that writes it as TensorBoard event files.

<logdir>/train gets every step's scalars, the histogram snapshots, the input images and
the run's config as text; <logdir>/val gets the test-set evaluations under the same tags,
so TensorBoard overlays train and test. It does not care who produced the records: a
tblab run, or a watched script.

When the disk fills mid-run, the sink keeps what was written, writes nothing more, and
tells its owner once (`on_failure`, and `failure` afterwards): the producer is stopped
by its owner and the run still ends with its summary, never a traceback from a callback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.schema import tags
from core.schema.facts import RunFacts
from core.schema.history import Snapshot, StepRecord
from core.system.rundir import LogWriteError
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
    """Event files for one run. Use as on_step / on_snapshot / on_eval callbacks, then close()."""

    def __init__(self, logdir: str | Path, facts: RunFacts, image_every: int = 500,
                 on_failure: Callable[[LogWriteError], None] | None = None):
        self.logdir = Path(logdir)
        self.image_every = image_every
        self.failure: LogWriteError | None = None
        self._on_failure = on_failure
        self._train = EventFile(self.logdir / "train")  # a failure here is a run that cannot start
        self._val = EventFile(self.logdir / "val")
        self._train.write(0, text_summary(facts.texts()))  # read back by core/tensorboard/reader.py
        # One block per tag layout: a watched script's light and full steps differ.
        self._blocks: dict[tuple[str, tuple[str, ...]], TensorBlock] = {}
        self._dropped = ScalarBlock([tags.NONFINITE_HISTOGRAM_DROPPED])

    def on_step(self, record: StepRecord) -> None:
        if self.failure is not None:
            return
        block = self._block("train", tuple(record.scalars), ScalarBlock)
        self._guarded(self._train.write, record.step, block.serialise(np.fromiter(record.scalars.values(), np.float32)))

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if self.failure is None:
            self._guarded(self._write_snapshot, snapshot)

    def _write_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.histograms:
            buckets = np.stack(list(snapshot.histograms.values()))
            kind = f"histograms of {buckets.shape[1]} buckets"
            block = self._block(kind, tuple(snapshot.histograms), lambda names: HistogramBlock(names, buckets.shape[1]))
            self._train.write(snapshot.step, block.serialise(buckets))
        self._train.write(snapshot.step, self._dropped.serialise([snapshot.dropped]))
        if snapshot.images is not None and snapshot.step % self.image_every == 0:
            self._train.write(snapshot.step, images_summary(tags.INPUT_IMAGES, display_images(snapshot.images)))

    def on_eval(self, step: int, scalars: dict[str, float]) -> None:
        if self.failure is None:
            self._guarded(self._val.write, step, self._block("val", tuple(scalars), ScalarBlock).serialise(list(scalars.values())))

    def _guarded(self, write, *args) -> None:
        try:
            write(*args)
        except LogWriteError as error:
            self.failure = error
            if self._on_failure is not None:
                self._on_failure(error)

    def _block(self, kind: str, names: tuple[str, ...], make: Callable[[list[str]], TensorBlock]) -> TensorBlock:
        """The block for this tag layout of this kind (train or val scalars, histograms), made once."""
        block = self._blocks.get((kind, names))
        if block is None:
            block = self._blocks[(kind, names)] = make(list(names))
        return block

    def close(self) -> None:
        """Close both files; a failure while flushing the last events becomes `failure`."""
        for events in (self._train, self._val):
            failed_before = self.failure is not None
            try:
                events.close()
            except LogWriteError as error:
                if not failed_before:
                    self.failure = error

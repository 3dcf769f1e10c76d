"""TensorBoard event files written from Python, one serialised Summary per step.

tf.summary's writer parses every summary back into a protobuf inside its op and
serialises it again: ~60 us per step for tblab's ~60 scalars, measured, which was most
of what logging cost. tblab already has each step's values in Python, so it builds the
Summary bytes itself (core.tensorboard.summaries) and frames them here. TFRecordWriter does the
record framing and CRCs in C++ (~5 us per event).
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time
from pathlib import Path

import tensorflow as tf
from tensorboard.compat.proto.event_pb2 import Event

from core.system.rundir import LogWriteError

FLUSH_SECONDS = 2.0  # TensorBoard shows a live run within a couple of seconds
_file_numbers = itertools.count()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def event_bytes(step: int, wall_time: float, summary: bytes) -> bytes:
    """A serialised tensorflow.Event: wall_time (field 1, double), step (2, varint),
    summary (5, bytes). Hand-framed so that the summary is never parsed again."""
    return b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step) + b"\x2a" + _varint(len(summary)) + summary


class EventFile:
    """One events.out.tfevents.* file in `folder`, flushed at most every FLUSH_SECONDS.

    A write, flush or close that fails (a full disk) raises LogWriteError once; the file
    then takes no more writes, and what reached the disk before stays a readable prefix."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LogWriteError.of(folder, error) from None
        # The name TensorBoard looks for ("tfevents"), unique per process and file.
        name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}.{next(_file_numbers)}.v2"
        self.path = folder / name
        self.failed = False
        self._records = None
        self._records = self._guarded(tf.io.TFRecordWriter, str(self.path))
        self._guarded(self._records.write, Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self.flush()

    def write(self, step: int, summary: bytes) -> None:
        if self.failed:
            return
        self._guarded(self._records.write, event_bytes(step, time.time(), summary))
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.failed:
            self._guarded(self._records.flush)
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self.failed:
            self._guarded(self._records.close)
            return
        try:  # a failed file: release it, with nothing more to say
            if self._records is not None:
                self._records.close()
        except (OSError, tf.errors.OpError):
            pass

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except (OSError, tf.errors.OpError) as error:
            self.failed = True
            raise LogWriteError.of(self.path.parent, error) from None

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
    """One events.out.tfevents.* file in `folder`, flushed at most every FLUSH_SECONDS."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # The name TensorBoard looks for ("tfevents"), unique per process and file.
        name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}.{next(_file_numbers)}.v2"
        self.path = folder / name
        self._records = tf.io.TFRecordWriter(str(self.path))
        self._records.write(Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self._records.flush()
        self._last_flush = time.monotonic()

    def write(self, step: int, summary: bytes) -> None:
        self._records.write(event_bytes(step, time.time(), summary))
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._records.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self._records.close()

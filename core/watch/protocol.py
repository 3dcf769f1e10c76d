"""The messages a watched script's child process sends its parent: one JSON object a line.

JSON rather than pickle so that a broken or hostile child can never make the parent run
code; Python's json writes NaN and Infinity and reads them back, which a run needs.

kinds (every message has "kind"):
  start    {"style": "custom loop" | "keras fit", "names": {tag name: script's name},
            "layers": [layer, ...]}                  the layers as tags name them; the last is the output
  config   {"activation": ..., "batch_size": ...}   what the doctor's rules read from a config
  data     {"source": ...}                           which MNIST the script was served
  notice   {"text": ...}                             a line for the user (a fix that did nothing, ...)
  step     {"step": k, "scalars": {tag: value}}      one StepRecord
  eval     {"step": k, "scalars": {"loss": .., "accuracy": ..}}   a test-set evaluation
  snapshot {"step": k, "tags": [...], "buckets": [[[left, right, count], ...], ...], "dropped": n,
            "images": {"shape": [k, 28, 28], "pixels": base64 of float32} (every image_every steps)}
  error    {"text": ...}                             the script's traceback, trimmed to its own frames
  end      {"steps": n, "reason": "finished" | "steps" | "stopped" | "error", "unrecorded": n,
            "other_model": n}                       steps not recorded, and of them those of another model
"""

from __future__ import annotations

import base64
import json
import os
import threading

import numpy as np

FD_ENV = "TBLAB_WATCH_FD"  # the child's end of the record pipe


def encode(message: dict) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def decode(line: bytes | str) -> dict | None:
    """A message, or None for a line that is not one (never raises)."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) and isinstance(message.get("kind"), str) else None


def pack_array(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, np.float32).tobytes()).decode()


def unpack_array(text: str, shape: list[int]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), np.float32).reshape(shape)


class Channel:
    """The child's end: messages written whole to an inherited file descriptor."""

    def __init__(self, fd: int):
        self.fd = fd
        self._lock = threading.Lock()  # two threads send: a long message must not be split by another

    def send(self, kind: str, **fields) -> None:
        data = encode({"kind": kind, **fields})
        view = memoryview(data)
        with self._lock:
            while view:  # a pipe may take a long message in parts
                written = os.write(self.fd, view)
                view = view[written:]

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass

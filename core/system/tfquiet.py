"""Keep TensorFlow's C++ log lines off the terminal: the one fd-2 redirect tblab uses.

TensorFlow writes straight to file descriptor 2 from C++ (on import and on its first
op), and TF_CPP_MIN_LOG_LEVEL does not silence all of it; so fd 2 points at a log file
while that can happen, and is restored afterwards. The headless commands redirect
around the import; the lab for as long as it runs, keeping Python's own stderr (which
Textual draws the screen on) on the terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

TF_LOG = Path(tempfile.gettempdir()) / "tblab-tensorflow.log"


@contextmanager
def stderr_fd_to_file(log_path: str | Path, *, keep_python_stderr: bool = False) -> Iterator[TextIO | None]:
    """Point fd 2 at `log_path` (appending) for the block; C and C++ writes land there.

    With keep_python_stderr, sys.stderr and sys.__stderr__ write to the terminal meanwhile
    (a duplicate of the old fd 2, yielded): Textual's driver draws on sys.__stderr__, and
    Python tracebacks still reach the screen.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stderr, sys.__stderr__):
        if stream is not None:
            stream.flush()
    saved_fd = os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    terminal = None
    saved_streams = sys.stderr, sys.__stderr__
    if keep_python_stderr:
        terminal = os.fdopen(
            os.dup(saved_fd), "w", encoding=getattr(sys.__stderr__, "encoding", None) or "utf-8",
            errors="backslashreplace", buffering=1,
        )
        sys.stderr = sys.__stderr__ = terminal
    try:
        yield terminal
    finally:
        sys.stderr, sys.__stderr__ = saved_streams
        if terminal is not None:
            terminal.close()
        for stream in saved_streams:
            if stream is not None:
                stream.flush()  # what Python wrote during the block goes where fd 2 pointed then
        os.dup2(saved_fd, 2)
        os.close(saved_fd)


# tblab's own training processes (`tblab run`, the lab, experiments, sweeps' workers) give
# TensorFlow one intra-op and one inter-op thread. A step of its MLPs is ~100 small ops; handing
# them between threads cost more than it saved: on 2 cores, 1 thread each trained 15-25% faster
# and used 10-30% less CPU per step, with bit-identical numbers (bench/train_speed.py (b), (c)).
# The index stream's prefetch keeps a thread of its own. A user's own scripts (tblab watch) keep
# TensorFlow's defaults, and TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS still win.
TRAINING_THREADS = 1
_THREAD_SETTINGS = (
    ("TF_NUM_INTRAOP_THREADS", "set_intra_op_parallelism_threads"),
    ("TF_NUM_INTEROP_THREADS", "set_inter_op_parallelism_threads"),
)


def import_tensorflow_quietly(log_path: Path = TF_LOG, threads: int | None = None):
    """Import TensorFlow with fd 2 sent to `log_path`; `threads` caps its thread pools
    (see cap_threads)."""
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        if threads is not None:
            cap_threads(tf, threads)
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with stderr_fd_to_file(log_path):
        import tensorflow as tf

        if threads is not None:
            cap_threads(tf, threads)
        tf.constant(1.0) + 1.0  # the first op prints its own start-up lines
        tf.get_logger().setLevel("ERROR")  # retracing notes and the like are not for learners
        return tf


def cap_threads(tf, threads: int) -> bool:
    """Give TensorFlow `threads` intra-op and inter-op threads, each unless the environment
    sets it. Only possible before TensorFlow's first op: False if that has run already."""
    try:
        for variable, setter in _THREAD_SETTINGS:
            if variable not in os.environ:
                getattr(tf.config.threading, setter)(threads)
    except RuntimeError:  # "cannot be modified after initialization"
        return False
    return True

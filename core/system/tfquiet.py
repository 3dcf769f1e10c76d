"""Import TensorFlow without its C++ log lines reaching the terminal.

TensorFlow writes straight to file descriptor 2 on import and on its first op, and
TF_CPP_MIN_LOG_LEVEL does not silence all of it; so fd 2 points at a log file while
that happens, and is restored afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

TF_LOG = Path(tempfile.gettempdir()) / "tblab-tensorflow.log"


def import_tensorflow_quietly(log_path: Path = TF_LOG, threads: int | None = None):
    """Import TensorFlow with fd 2 sent to `log_path`; `threads` caps its thread pools."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(log_fd, 2)
        import tensorflow as tf

        if threads is not None:  # only possible before the first op
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.constant(1.0) + 1.0  # the first op prints its own start-up lines
        tf.get_logger().setLevel("ERROR")  # retracing notes and the like are not for learners
        return tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(log_fd)

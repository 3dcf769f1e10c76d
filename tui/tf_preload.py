"""Importing TensorFlow in the background while the lab's first frame is on screen."""

from __future__ import annotations


def preload_tensorflow() -> str:
    """Import TensorFlow (and the training loop) with its threads capped; the error, or "" on success.
    Runs at training's priority: threads TensorFlow starts here inherit it."""
    from tui.lab_runs import lower_thread_priority

    lower_thread_priority()
    try:
        import core.train.loop  # noqa: F401  (the import is the work: TensorFlow loads now, off the UI thread)
        from core.system.tfquiet import TRAINING_THREADS, import_tensorflow_quietly

        import_tensorflow_quietly(threads=TRAINING_THREADS)  # imported already: only caps its threads
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return ""

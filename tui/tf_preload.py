"""Importing TensorFlow in the background while the lab's first frame is on screen, and
keeping its objects out of the garbage collector's way once it is loaded."""

from __future__ import annotations

import gc

_frozen = False


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


def freeze_loaded_heap() -> None:
    """Once TensorFlow is imported, move every object alive now (~330k, nearly all TensorFlow's
    modules) out of the cyclic garbage collector's reach: its full collections walked them all,
    0.7 s with the UI thread held (measured during a run on a loaded machine; 0.13 s after).
    Refcounting still frees them; only cycles already garbage now would stay. Once a process."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()

"""Read TensorBoard log folders from disk into History: the entry points of
core/tensorboard/reading/, kept here for the callers that import them from this module."""

from core.tensorboard.reading import EVENT_FILE_PREFIX, LogError, find_runs, iter_runs, latest_run, read_all, read_run

__all__ = ["EVENT_FILE_PREFIX", "LogError", "find_runs", "iter_runs", "latest_run", "read_all", "read_run"]

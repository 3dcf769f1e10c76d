"""Reading TensorBoard log folders into History, whoever wrote them, along TensorBoard's own
seams: find the runs (discover), decode their records (decode), keep the latest of restarted
runs (restarts), assemble the History (assemble, keras) with each tag read by its meaning and
content (core/tensorboard/tag_styles.py, roles) and the model inferred (core/tensorboard/layers.py,
texts for the model config). The Reading says which tag fills which role."""

from core.tensorboard.reading.discover import EVENT_FILE_PREFIX, LogError, find_runs
from core.tensorboard.reading.restarts import latest_run
from core.tensorboard.reading.run import iter_runs, read_all, read_run

__all__ = ["EVENT_FILE_PREFIX", "LogError", "find_runs", "iter_runs", "latest_run", "read_all", "read_run"]

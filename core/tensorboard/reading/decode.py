"""Decode the records of a half's event files into raw per-tag values (RawHalf).

Records come from TensorBoard's own reader (event_file_loader.RawEventFileLoader), only
ever given frames that fit in the file (core.tensorboard.records: a huge length crashes it);
we parse them ourselves instead of using EventAccumulator because it keeps only
10 events per tensor tag by default and silently stops at a damaged record,
while we must keep every value and say which file was damaged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.tensorboard import records
from core.tensorboard.reading.names import first_line, printable

KERAS_MODEL_PLUGIN = "graph_keras_model"
KERAS_MODEL_TEXT = "keras_model"  # RawHalf.texts key of the decoded Keras model config
RECORD_OVERHEAD = 16  # TFRecord framing: length (8), length CRC (4), data CRC (4)
MAX_TEXT_BYTES = 4 << 20  # a text tag longer than this is not read (a Keras model config is ~10-100 kB)

_FLOAT32 = struct.Struct("<f").unpack
_FLOAT64 = struct.Struct("<d").unpack
_DT_FLOAT, _DT_DOUBLE = 1, 2  # tensorflow DataType enum values


@dataclass
class RawScalars:
    """One scalar tag as written: steps, wall times and values, in file order."""

    steps: list[int] = field(default_factory=list)
    wall_times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class RawHistogram:
    """One histogram as written, still encoded (decoded only if kept)."""

    step: int
    wall_time: float
    tensor: object  # tensorboard TensorProto of shape [k, 3]: left edge, right edge, count


@dataclass
class RawHalf:
    """Everything read from the event files of one half (train or val) of a run."""

    scalars: dict[str, RawScalars] = field(default_factory=dict)
    histograms: dict[str, list[RawHistogram]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    other_tags: set[str] = field(default_factory=set)
    graph: bool = False  # the writer logged its graph (FileWriter(logdir, sess.graph), Keras' write_graph)
    restarts: list[float] = field(default_factory=list)  # per tag whose steps went back: when its latest run began
    warnings: list[str] = field(default_factory=list)


def read_files(files: list[Path], run_dir: Path) -> RawHalf:
    """The values of one half's event files, read in order."""
    raw = RawHalf()
    plugins: dict[str, str] = {}  # tag -> plugin; TF2 writers send the metadata only with a tag's first value
    for path in files:
        read_file(path, printable(path.relative_to(run_dir).as_posix()), raw, plugins)
    return raw


def read_file(path: Path, shown_name: str, raw: RawHalf, plugins: dict[str, str]) -> None:
    """Add one event file's values to raw; a damaged file adds a warning and keeps what came before."""
    # Imported here: TensorBoard's reader loads TensorFlow, and importing this module should stay cheap.
    from google.protobuf.message import DecodeError
    from tensorboard.compat import tf
    from tensorboard.compat.proto import event_pb2

    consumed = events = undecodable = 0
    try:
        framing = records.check_framing(path)
        size = framing.size
        for record in records.read_records(path, framing):
            consumed += len(record) + RECORD_OVERHEAD
            try:
                event = event_pb2.Event.FromString(record)
            except DecodeError:
                undecodable += 1
                continue
            events += 1
            if event.HasField("summary"):
                _add_summary(event, raw, plugins)
            elif event.HasField("graph_def") or event.HasField("meta_graph_def"):
                raw.graph = True
    except (OSError, tf.errors.OpError) as error:
        raw.warnings.append(f"{shown_name}: cannot read ({first_line(error)})")
        return
    # A 0-byte file is one a writer has just opened: only a run with no values at all is
    # worth a warning (read_run). The loader stops quietly at a truncated or corrupt record:
    # the bytes it did not reach tell us.
    if consumed < size:
        claim = ""
        if framing.overrun_at == consumed:
            claim = f"; the record there claims {framing.overrun_length} bytes"
        raw.warnings.append(
            f"{shown_name}: damaged or incomplete after byte {consumed} of {size} "
            f"(truncated, corrupt, or still being written{claim}); read the {events} events before it"
        )
    if undecodable:
        raw.warnings.append(f"{shown_name}: {undecodable} records are not TensorBoard events; skipped")


def _add_summary(event, raw: RawHalf, plugins: dict[str, str]) -> None:
    # Runs once per value (100k times for a 2000-step tblab run): keep lookups few.
    step, wall_time = event.step, event.wall_time
    for value in event.summary.value:
        tag = value.tag
        if not tag.isprintable():  # terminal escapes in a tag must never reach the screen
            tag = printable(tag, limit=len(tag))
        kind = value.WhichOneof("value")
        if kind in ("simple_value", "histo"):  # legacy writers (TF1, PyTorch): convert to the TF2 tensor form
            value = _migrate_legacy(value)
        elif kind != "tensor":
            raw.other_tags.add(tag)  # images, audio: we need their names, not their payloads
            continue
        plugin = plugins.get(tag)
        if plugin is None:
            plugin = plugins[tag] = value.metadata.plugin_data.plugin_name
        if plugin == "scalars":
            scalar = _decode_scalar(value.tensor)
            if scalar is None:
                raw.other_tags.add(tag)
                continue
            series = raw.scalars.get(tag)
            if series is None:
                series = raw.scalars[tag] = RawScalars()
            series.steps.append(step)
            series.wall_times.append(wall_time)
            series.values.append(scalar)
        elif plugin == "histograms":
            raw.histograms.setdefault(tag, []).append(RawHistogram(step, wall_time, value.tensor))
        elif plugin in ("text", KERAS_MODEL_PLUGIN):
            _add_text(raw, tag, plugin, value.tensor)
        else:
            raw.other_tags.add(tag)


def _add_text(raw: RawHalf, tag: str, plugin: str, tensor) -> None:
    """A text tag's latest value; one too large to be what tblab reads is left out, with a warning."""
    if tensor.ByteSize() > MAX_TEXT_BYTES:
        raw.warnings.append(f"text {printable(tag)}: over {MAX_TEXT_BYTES >> 20} MB; not read")
        raw.other_tags.add(tag)
        return
    if plugin == KERAS_MODEL_PLUGIN:  # the model's own config (Keras' TensorBoard callback)
        raw.texts[KERAS_MODEL_TEXT] = _decode_text(tensor)
        raw.other_tags.add(tag)
    else:
        raw.texts[tag] = _decode_text(tensor)


def _migrate_legacy(value):
    from tensorboard import data_compat

    return data_compat.migrate_value(value)


def _decode_scalar(tensor) -> float | None:
    """The float in a scalar tensor (NaN and Inf kept), or None if it holds no number."""
    content = tensor.tensor_content
    if tensor.dtype == _DT_FLOAT and len(content) == 4:  # the common case, kept fast
        return _FLOAT32(content)[0]
    if tensor.dtype == _DT_DOUBLE and len(content) == 8:
        return _FLOAT64(content)[0]
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(tensor)
        return float(array.reshape(-1)[0]) if array.size == 1 else None
    except (TypeError, ValueError, OverflowError):
        return None


def _decode_text(tensor) -> str:
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(tensor)
    except (TypeError, ValueError):
        return ""
    if array.size == 0:
        return ""
    first = array.reshape(-1)[0]
    return first.decode("utf-8", errors="replace") if isinstance(first, bytes) else str(first)


def decode_histogram(tensor) -> tuple[np.ndarray, np.ndarray] | None:
    """Edges (k+1) and counts (k) of a [k, 3] histogram tensor; None if empty or malformed."""
    from tensorboard.util import tensor_util

    try:
        buckets = np.asarray(tensor_util.make_ndarray(tensor), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if buckets.ndim != 2 or buckets.shape[1] != 3 or buckets.shape[0] == 0:
        return None
    edges = np.append(buckets[:, 0], buckets[-1, 1])
    return edges, buckets[:, 2]

"""Read TensorBoard log folders from disk into History, whoever wrote them.

tblab's own runs, Keras' TensorBoard callback and plain tf.summary / legacy
writers all end up in one History (tag mapping: core/tensorboard/tag_styles.py), so the
doctor can diagnose any log folder. Damaged files give warnings, never a crash.

Other programs' logs are read by meaning (core/tensorboard/tag_styles.py for names,
core/tensorboard/layers.py for what names cannot say), and what the reader recovers goes
into History.facts (core/schema/facts.py) for the doctor:
  layer_order, output_layers   the layers, input side first, and which is the output one
  model                        the model's own config, when Keras' callback wrote it
                               (core/tensorboard/model_config.py)
  deaveraged / running_means   Keras' batch_* running means turned back into per-batch values,
                               or (epoch length unknown) left as running means
  nonfinite_histograms         {tag: first step} of histograms dropped for holding NaN/Inf
Sibling folders train/ and val/, validation/, test/, eval/ ... are the two halves of one run.
Several runs written into one folder (a notebook cell run again) are read as TensorBoard shows
them: the latest run's values replace the earlier ones from the step it restarts at, and tags
only an earlier run wrote are left out, so the doctor diagnoses the run the user just made.

Records come from TensorBoard's own reader (event_file_loader.RawEventFileLoader), only
ever given frames that fit in the file (core.tensorboard.records: a huge length crashes it);
we parse them ourselves instead of using EventAccumulator because it keeps only
10 events per tensor tag by default and silently stops at a damaged record,
while we must keep every value and say which file was damaged.
"""

from __future__ import annotations

import os
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.schema.history import HistogramSnapshot, History, Series
from core.schema.tags import LOGITS, OUTPUT_LAYER
from core.tensorboard import records, tag_styles
from core.tensorboard.layers import deaverage_running_means, name_by_size, numbered_order, output_layers, steps_per_epoch
from core.tensorboard.model_config import summarise_keras

EVENT_FILE_PREFIX = "events.out.tfevents."
TRAIN_DIR = "train"
# Halves of one run written beside train/: tblab's val/, Keras' validation/, and the test/,
# eval/ ... folders hand-written loops use for their test-set writer.
VAL_DIRS = ("val", "validation", "valid", "test", "eval", "evaluation", "dev")
KERAS_MODEL_PLUGIN = "graph_keras_model"
KERAS_MODEL_TEXT = "keras_model"  # RawHalf.texts key of the decoded Keras model config
RECORD_OVERHEAD = 16  # TFRecord framing: length (8), length CRC (4), data CRC (4)

_FLOAT32 = struct.Struct("<f").unpack
_FLOAT64 = struct.Struct("<d").unpack
_DT_FLOAT, _DT_DOUBLE = 1, 2  # tensorflow DataType enum values


class LogError(Exception):
    """A log folder that cannot be read at all; the message is one line naming it."""


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


def find_runs(root: str | Path) -> list[Path]:
    """The runs under root, sorted: folders with train/ (+ val/ or validation/) halves,
    or otherwise folders that directly hold event files."""
    root = Path(root)
    _require_folder(root)
    runs = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        if _has_events(here / TRAIN_DIR):
            runs.append(here)
            halves = (TRAIN_DIR, *VAL_DIRS)
            subfolders[:] = [name for name in subfolders if name not in halves]
        elif any(name.startswith(EVENT_FILE_PREFIX) for name in files + subfolders):
            runs.append(here)  # a folder named like an event file too: it gets a warning, not silence
            subfolders[:] = [name for name in subfolders if not name.startswith(EVENT_FILE_PREFIX)]
        subfolders.sort()
    return sorted(runs)


def read_all(root: str | Path, *, max_histograms_per_tag: int | None = None) -> list[History]:
    """Every run under root, each named by its path relative to root."""
    root = Path(root)
    runs = find_runs(root)
    if not runs:
        raise LogError(f"no TensorBoard event files under {root}")
    return [_read_or_warn(run, _run_name(run, root), max_histograms_per_tag) for run in runs]


def _read_or_warn(run: Path, name: str, max_histograms_per_tag: int | None) -> History:
    """One run of a root; a run that cannot be read is an empty History with the reason,
    so one broken folder never hides the healthy runs beside it."""
    try:
        return read_run(run, name=name, max_histograms_per_tag=max_histograms_per_tag)
    except LogError as error:
        return History(run=name, warnings=[str(error)])
    except Exception as error:  # noqa: BLE001 - an unforeseen damage in one run must not cost the others
        return History(run=name, warnings=[f"{run}: cannot be read ({type(error).__name__}: {_first_line(error)})"])


def read_run(
    run_dir: str | Path, *, max_histograms_per_tag: int | None = None, name: str | None = None
) -> History:
    """One run: its train half (train/ or the folder itself) and val half (val/ or validation/).

    max_histograms_per_tag keeps that many snapshots per histogram tag, evenly
    spaced, always including the last (None keeps all).
    """
    if max_histograms_per_tag is not None and max_histograms_per_tag < 1:
        raise ValueError(f"max_histograms_per_tag must be >= 1 or None, not {max_histograms_per_tag}")
    run_dir = Path(run_dir)
    _require_folder(run_dir)
    try:
        halves = _half_files(run_dir)
        empty = not any(run_dir.iterdir())
    except OSError as error:
        raise LogError(f"cannot list log folder {run_dir}: {error.strerror or error}") from None
    if empty:
        raise LogError(f"empty log folder: {run_dir}")
    if not any(halves.values()):
        raise LogError(f"no TensorBoard event files in {run_dir}")
    raw = {half: _read_half(half, files, run_dir) for half, files in halves.items()}
    _drop_earlier_runs(raw)
    history = _build_history(name or run_dir.resolve().name, raw, max_histograms_per_tag)
    if not (history.train or history.val or history.histograms):
        if any(half.graph for half in raw.values()):
            history.warnings.append(
                f"the event files of {run_dir} hold the model's graph but no values: the program stopped before "
                "its first summary (a TF1 script stops there when a histogram summary meets NaN or Inf: "
                "'Nan in summary histogram')")
        else:
            history.warnings.append(f"no values in the event files of {run_dir} (empty, or only a file header)")
    return history


def _require_folder(folder: Path) -> None:
    if not folder.exists():
        raise LogError(f"no such log folder: {folder}")
    if not folder.is_dir():
        raise LogError(f"not a folder (give the folder that holds the event files): {folder}")


def _run_name(run: Path, root: Path) -> str:
    relative = run.relative_to(root).as_posix()
    return root.resolve().name if relative == "." else relative


def _has_events(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(entry.name.startswith(EVENT_FILE_PREFIX) for entry in folder.iterdir())
    except OSError:  # unreadable folder: not a run we can read
        return False


def _event_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    # Special files named like event files are kept: reading them gives a warning (core.tensorboard.records).
    files = [path for path in folder.iterdir() if path.name.startswith(EVENT_FILE_PREFIX)]
    return sorted(files, key=_file_order)


def _file_order(path: Path) -> tuple[int, str]:
    """Writers name files events.out.tfevents.<unix time>.<host>...: read older files first."""
    match = re.match(re.escape(EVENT_FILE_PREFIX) + r"(\d+)", path.name)
    return (int(match[1]) if match else 0, path.name)


def _half_files(run_dir: Path) -> dict[str, list[Path]]:
    """Files of each half; event files directly in a split run's folder (e.g. hparams) join train."""
    own = _event_files(run_dir)
    if not _has_events(run_dir / TRAIN_DIR):
        return {tag_styles.TRAIN: own, tag_styles.VAL: []}
    val = [path for name in VAL_DIRS for path in _event_files(run_dir / name)]
    return {tag_styles.TRAIN: own + _event_files(run_dir / TRAIN_DIR), tag_styles.VAL: val}


def _read_half(half: str, files: list[Path], run_dir: Path) -> RawHalf:
    raw = RawHalf()
    plugins: dict[str, str] = {}  # tag -> plugin; TF2 writers send the metadata only with a tag's first value
    for path in files:
        _read_file(path, path.relative_to(run_dir).as_posix(), raw, plugins)
    # A learner who fixes a bug and runs again into the same folder: read what TensorBoard shows
    # (it purges a tag's values from the step its steps go back to), the latest run, not a mix.
    restarted = []
    for tag, series in raw.scalars.items():
        run = latest_run(series.steps)
        if run is not None:
            keep, restart = run
            restarted.append(tag)
            raw.restarts.append(series.wall_times[restart])
            raw.scalars[tag] = RawScalars(*([column[i] for i in keep] for column in (series.steps, series.wall_times, series.values)))
    for tag, snaps in raw.histograms.items():
        run = latest_run([snap.step for snap in snaps])
        if run is not None:
            raw.histograms[tag] = [snaps[i] for i in run[0]]
    if restarted:
        raw.warnings.append(
            f"{half}: steps go back in {_few(sorted(restarted))} (a restart, or several runs written to one folder): "
            "read as TensorBoard shows them, the values written last replace the earlier ones from the step they restart at"
        )
    return raw


def _drop_earlier_runs(halves: dict[str, RawHalf]) -> None:
    """After a restart, the tags only an earlier run wrote (its other layers, say): every value
    written before the latest run began. That run begins at the earliest of the tags' last
    restarts (they restart within one step of each other)."""
    restarts = [time for raw in halves.values() for time in raw.restarts]
    if not restarts:
        return
    began = min(restarts)
    for raw in halves.values():
        stale = [tag for tag, series in raw.scalars.items() if max(series.wall_times) < began]
        stale += [tag for tag, snaps in raw.histograms.items() if max(snap.wall_time for snap in snaps) < began]
        for tag in stale:
            raw.scalars.pop(tag, None)
            raw.histograms.pop(tag, None)
        if stale:
            raw.warnings.append(f"left out {_few(sorted(stale))}: only an earlier run in this folder wrote them")


def _read_file(path: Path, shown_name: str, raw: RawHalf, plugins: dict[str, str]) -> None:
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
        raw.warnings.append(f"{shown_name}: cannot read ({_first_line(error)})")
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
        elif plugin == "text":
            raw.texts[tag] = _decode_text(value.tensor)
        elif plugin == KERAS_MODEL_PLUGIN:  # the model's own config (Keras' TensorBoard callback)
            raw.texts[KERAS_MODEL_TEXT] = _decode_text(value.tensor)
            raw.other_tags.add(tag)
        else:
            raw.other_tags.add(tag)


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
    except (TypeError, ValueError):
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


def _decode_histogram(tensor) -> tuple[np.ndarray, np.ndarray] | None:
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


@dataclass(frozen=True)
class _Reading:
    """How a run's tags are read: its style, and for Keras whether steps are iterations."""

    style: str
    per_batch: bool  # Keras logged batch_* values: epoch-stepped values move to iterations
    marks: list[tuple[float, int]]  # (wall time, iteration) to place those epoch values
    max_histograms: int | None


def _build_history(name: str, halves: dict[str, RawHalf], max_histograms: int | None) -> History:
    history = History(run=name)
    for raw in halves.values():
        history.warnings.extend(raw.warnings)
    train, val = halves[tag_styles.TRAIN], halves[tag_styles.VAL]
    scalar_tags = set(train.scalars) | set(val.scalars)
    histogram_tags = set(train.histograms) | set(val.histograms)
    text_tags = set(train.texts) | set(val.texts)
    style = tag_styles.detect_style(scalar_tags, histogram_tags, text_tags)
    per_batch = style == tag_styles.KERAS and tag_styles.keras_per_batch(set(train.scalars))
    reading = _Reading(style, per_batch, _iteration_marks(halves) if per_batch else [], max_histograms)
    renamed: set[str] = set()
    # The train half's histograms first: a test-set writer that logs the same histograms (TF1's
    # mnist_with_summaries evaluates its merged summary on the test set) only fills gaps.
    for half in (tag_styles.TRAIN, tag_styles.VAL):
        _add_histograms(history, halves[half], reading, renamed, gaps_only=half == tag_styles.VAL)
    for half, raw in halves.items():
        _add_scalars(history, half, raw, reading, renamed)
        for tag, text in raw.texts.items():
            if (key := tag_styles.map_text(tag)) is not None:
                history.facts = history.facts.with_text(key, text)
            elif tag == KERAS_MODEL_TEXT and (model := summarise_keras(text)) is not None:
                history.facts = history.facts.but(model=model)
    if per_batch:
        _deaverage_keras_batches(history, reading.marks, halves[tag_styles.TRAIN])
    _name_layers_by_size(history, renamed)

    epoch_only = style == tag_styles.KERAS and not per_batch and any(t.startswith("epoch_") for t in scalar_tags)
    all_tags = scalar_tags | histogram_tags | text_tags | train.other_tags | val.other_tags
    history.facts = history.facts.but(style=style, step_unit="epoch" if epoch_only else "step",
                                      raw_tags=tuple(sorted(all_tags)), tag_map=tuple(sorted(renamed)))
    order = _keras_layer_order(history) if style == tag_styles.KERAS else []
    order = order or _numbered_layer_order(history)
    if order:
        history.facts = history.facts.but(layer_order=tuple(order))
    if style != tag_styles.TBLAB:
        outputs = _output_layers(history, order)
        if outputs:
            history.facts = history.facts.but(output_layers=tuple(outputs))
    return history


def _add_scalars(history: History, half: str, raw: RawHalf, reading: _Reading, renamed: set[str]) -> None:
    for tag, written in raw.scalars.items():
        target = tag_styles.map_scalar(tag, half, reading.style, reading.per_batch)
        steps = written.steps
        if reading.per_batch and target.epoch_stepped:
            steps = tag_styles.place_at_iterations(written.wall_times, reading.marks)
        section = history.train if target.section == tag_styles.TRAIN else history.val
        final = _claim(section, target.name, tag, f"{target.section} scalar", history.warnings)
        section[final] = Series(steps=list(steps), values=list(written.values))
        _note_rename(renamed, tag, final, target.section)


def _add_histograms(history: History, raw: RawHalf, reading: _Reading, renamed: set[str], gaps_only: bool) -> None:
    for tag, written in raw.histograms.items():
        mapped = tag_styles.map_histogram(tag, reading.style)
        if gaps_only and (mapped in history.histograms or tag in history.histograms):
            continue
        if reading.per_batch and tag.endswith("/histogram"):  # Keras writes weights at epoch end
            placed = tag_styles.place_at_iterations([snap.wall_time for snap in written], reading.marks)
            written = [RawHistogram(step, snap.wall_time, snap.tensor) for step, snap in zip(placed, written)]
        for split_name, snaps in _split_collisions(mapped, tag, written, history.warnings):
            final = _claim(history.histograms, split_name, tag, "histogram", history.warnings)
            nonfinite: dict[str, int] = {}
            snapshots = _decode_snapshots(final, snaps, reading.max_histograms, history.warnings, nonfinite)
            if nonfinite:
                noted = history.facts.nonfinite_histograms
                history.facts = history.facts.but(nonfinite_histograms={**noted, **nonfinite})
            if snapshots:  # a tag whose every snapshot was unusable is only in raw_tags and warnings
                history.histograms[final] = snapshots
                _note_rename(renamed, tag, final, "")


def _iteration_marks(halves: dict[str, RawHalf]) -> list[tuple[float, int]]:
    """(wall time, iteration) of every Keras value stepped by iteration, from both halves."""
    marks = []
    for raw in halves.values():
        for tag, written in raw.scalars.items():
            if tag_styles.is_keras_iteration_mark(tag):
                marks.extend(zip(written.wall_times, written.steps))
    return marks


def _claim(section: dict, name: str, raw_tag: str, what: str, warnings: list[str]) -> str:
    """name if still free in section; else the raw tag (two tags mapped to one name), with a warning."""
    if name not in section:
        return name
    warnings.append(f"{what} {raw_tag} also maps to {name}, which another tag fills; kept as {raw_tag}")
    return raw_tag


def _note_rename(renamed: set[str], raw_tag: str, final: str, section: str) -> None:
    """Record `raw=name` (`raw=val:name` for validation values) for tags read under another name."""
    if final != raw_tag:
        renamed.add(f"{raw_tag}={'val:' if section == tag_styles.VAL else ''}{final}")


def _split_collisions(
    mapped: str, raw_tag: str, written: list[RawHistogram], warnings: list[str]
) -> list[tuple[str, list[RawHistogram]]]:
    """One histogram tag written several times per step held several tensors (early Keras 3
    named every weight just `kernel`): split them by write order into layer_1, layer_2, ..."""
    per_step = Counter(snap.step for snap in written)
    copies = max(per_step.values(), default=1)
    if copies == 1 or not tag_styles.lacks_layer(mapped):
        if copies > 1:
            warnings.append(f"histogram {raw_tag}: written up to {copies} times at one step; all kept")
        return [(mapped, written)]
    seen: Counter[int] = Counter()
    groups: dict[int, list[RawHistogram]] = {}
    for snap in written:
        seen[snap.step] += 1
        groups.setdefault(seen[snap.step], []).append(snap)
    warnings.append(
        f"histogram {raw_tag}: {copies} layers share this name; named layer_1..layer_{copies} in write order"
    )
    return [(tag_styles.number_layer(mapped, index), snaps) for index, snaps in sorted(groups.items())]


def _decode_snapshots(
    name: str, written: list[RawHistogram], keep: int | None, warnings: list[str], nonfinite: dict[str, int]
) -> list[HistogramSnapshot]:
    """Decode the kept snapshots; skip (with one warning per tag) those with non-finite edges,
    noting in `nonfinite` the first step at which each tag held NaN/Inf (a fact the doctor needs)."""
    snapshots, nonfinite_steps = [], []
    for snap in _evenly_spaced(written, keep):
        decoded = _decode_histogram(snap.tensor)
        if decoded is None:
            continue
        edges, counts = decoded
        if not (np.isfinite(edges).all() and np.isfinite(counts).all()):
            nonfinite_steps.append(snap.step)
            continue
        snapshots.append(HistogramSnapshot(step=snap.step, edges=edges, counts=counts))
    if nonfinite_steps:
        warnings.append(
            f"histogram {name}: skipped {len(nonfinite_steps)} snapshots with NaN/Inf bucket edges "
            f"(first at step {nonfinite_steps[0]})"
        )
        nonfinite[name] = nonfinite_steps[0]
    return snapshots


def _evenly_spaced(items: list, keep: int | None) -> list:
    if keep is None or len(items) <= keep:
        return items
    if keep == 1:
        return items[-1:]
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, keep)).astype(int))
    return [items[index] for index in picks]


def _keras_layer_order(history: History) -> list[str]:
    """Layer names in the order Keras wrote their histograms (model.layers order): Keras'
    default names (dense, dense_1, ...) do not sort into that order."""
    layers: list[str] = []
    for name in history.histograms:  # dicts keep insertion order = first write order per tag
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "weights" and parts[1] not in layers:
            layers.append(parts[1])
    return layers


def latest_run(steps: list[int]) -> tuple[list[int], int] | None:
    """The indices of the values TensorBoard keeps when a tag's steps go back (its purge of
    orphaned data: a value at step s written after a higher step drops every earlier value at a
    step >= s), and the index of the last value that went back. None when none does."""
    if len(steps) < 2 or not (np.diff(np.asarray(steps, dtype=np.int64)) < 0).any():
        return None
    kept: list[int] = []
    restart = 0
    for index, step in enumerate(steps):
        if kept and step < steps[kept[-1]]:
            kept = [i for i in kept if steps[i] < step]
            restart = index
        kept.append(index)
    return kept, restart


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _deaverage_keras_batches(history: History, marks: list[tuple[float, int]], train: RawHalf) -> None:
    """Keras logs batch_<metric> as the running mean over the epoch so far: turn train loss and
    accuracy back into per-batch values (see core/tensorboard/layers.py), so they stop lagging."""
    epoch_ends = sorted({step for tag, written in train.scalars.items() if tag.startswith("epoch_")
                         for step in tag_styles.place_at_iterations(written.wall_times, marks)})
    period = steps_per_epoch(epoch_ends)
    found = {tag: history.train[tag] for tag in ("loss", "accuracy") if tag in history.train}
    if period is not None:
        per_batch = {tag: deaverage_running_means(s.steps, s.values, period) for tag, s in found.items()}
        # A wrong epoch length gives impossible values (an accuracy outside [0, 1]): keep the means then.
        accuracy = np.asarray(per_batch.get("accuracy", []), dtype=np.float64)
        accuracy = accuracy[np.isfinite(accuracy)]
        if accuracy.size == 0 or (accuracy.min() >= -0.01 and accuracy.max() <= 1.01):
            for tag, values in per_batch.items():
                # k * m_k - (k - 1) * m_(k-1) carries float32 rounding x k: keep accuracies in [0, 1].
                found[tag].values = list(np.clip(values, 0.0, 1.0)) if tag == "accuracy" else values
            history.facts = history.facts.but(deaveraged=f"loss, accuracy (Keras running means over {period}-batch epochs)")
            return
    # Left as running means over the epoch so far: they lag the test-set values early in each epoch.
    history.facts = history.facts.but(running_means=tuple(found))


def _name_layers_by_size(history: History, renamed: set[str]) -> None:
    """Histograms named by a layer only (`layer1`, `layer1_offset`): the larger tensor of a layer
    is its kernel, the smaller its bias (bucket counts add up to the tensor's size)."""
    unknown = {tag: float(snaps[0].counts.sum()) for tag, snaps in history.histograms.items()
               if "/" not in tag and tag != LOGITS and snaps}
    for tag, name in name_by_size(unknown).items():
        if name not in history.histograms:
            history.histograms[name] = history.histograms.pop(tag)
            renamed.add(f"{tag}={name}")


def _numbered_layer_order(history: History) -> list[str]:
    tags = [*history.train, *history.histograms]
    return numbered_order(tags)


def _output_layers(history: History, order: list[str]) -> list[str]:
    """The output layer of each family of per-layer tags, for logs whose layers are not named `output`."""
    tags = [*history.train, *history.histograms]
    if any(f"/{OUTPUT_LAYER}/" in tag or tag.endswith(f"/{OUTPUT_LAYER}") for tag in tags):
        return []
    return output_layers(tags, order)

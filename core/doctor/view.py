"""RunView: the doctor's read-only window onto a History up to one step.

Rules look only at the first few records (how the run started) and the last
few (how it is going now), so a check costs the same at step 50 as at step
50 000, and the live and offline paths read a History the same way.
"""

from __future__ import annotations

from bisect import bisect_right
from fnmatch import fnmatchcase

import numpy as np

from core.doctor import thresholds as T
from core.schema.history import HistogramSnapshot, History, Series, layer_order
from core.schema.tags import NUM_CLASSES, OUTPUT_LAYER, chance_loss

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class RunView:
    """Windowed, cached access to a History's records with step <= upto."""

    def __init__(self, history: History, upto: int | None = None,
                 tail: int = T.TAIL_RECORDS, head: int = T.HEAD_RECORDS) -> None:
        self.history = history
        self.upto = run_last_step(history) if upto is None else upto
        self.tail_records = tail
        self.head_records = head
        self._tail: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._head: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._matches: dict[str, bool] = {}
        self._index: dict[str, dict[str, list[str]]] = {}
        self._config: dict | None = None
        self._layered: dict[tuple, list[tuple[str, str]]] = {}
        # The run's label counts (tblab runs record them); foreign logs: None, and K from meta or MNIST's 10.
        self.balance = history.facts.class_balance
        self.num_classes = self.balance.num_classes if self.balance else _num_classes(history)
        # Keras logs with only epoch_* values count epochs: persistence is judged in epochs then.
        self.per_epoch = history.facts.step_unit == "epoch"
        self.unit = "epoch" if self.per_epoch else "step"  # what a record's step counts, for evidence text
        self.min_records = T.EPOCH_MIN_RECORDS if self.per_epoch else T.MIN_RECORDS
        order = history.facts.layer_order
        self._order = {name: index for index, name in enumerate(order)}
        # Foreign logs name no layer `output`: the reader says which layer is the output one.
        self.output_layers = {OUTPUT_LAYER, *history.facts.output_layers}
        self._model: dict | None = None
        self.derived: dict[str, object] = {}  # core/doctor/derived.py's results, computed once per view

    # --- which tags exist ---------------------------------------------------
    def _count(self, series: Series) -> int:
        return bisect_right(series.steps, self.upto)

    def has(self, tag: str) -> bool:
        series = self.history.train.get(tag)
        return series is not None and bool(series.steps) and series.steps[0] <= self.upto

    def has_val(self, tag: str) -> bool:
        series = self.history.val.get(tag)
        return series is not None and bool(series.steps) and series.steps[0] <= self.upto

    def has_hist(self, tag: str) -> bool:
        return any(s.step <= self.upto for s in self.history.histograms.get(tag, ()))

    def _present(self, kind: str) -> dict[str, list[str]]:
        """Present tags of one kind ('train', 'val', 'hist') grouped by their first path part."""
        if kind not in self._index:
            if kind == "train":
                tags = [t for t in self.history.train if self.has(t)]
            elif kind == "val":
                tags = [t for t in self.history.val if self.has_val(t)]
            else:
                tags = [t for t in self.history.histograms if self.has_hist(t)]
            grouped: dict[str, list[str]] = {}
            for tag in tags:
                grouped.setdefault(tag.split("/", 1)[0], []).append(tag)
            self._index[kind] = grouped
        return self._index[kind]

    def matches(self, pattern: str) -> bool:
        """True if a tag matching pattern is present; 'hist:' and 'val:' select those kinds,
        'meta:<key>' a fact the reader recovered (e.g. meta:model, the model's own config)."""
        if pattern.startswith("meta:"):
            return bool(getattr(self.history.facts, pattern[len("meta:"):], None))
        if pattern not in self._matches:
            kind, _, glob = pattern.partition(":") if pattern.startswith(("hist:", "val:")) else ("train", "", pattern)
            tags = self._present(kind).get(glob.split("/", 1)[0], ())
            self._matches[pattern] = any(fnmatchcase(t, glob) for t in tags)
        return self._matches[pattern]

    def layered(self, prefix: str, part: str = "", hidden_only: bool = False) -> list[tuple[str, str]]:
        """(layer, tag) for tags named prefix/<layer>[/part], input side first."""
        key = ("train", prefix, part, hidden_only)
        if key not in self._layered:
            tags = self._present("train").get(prefix, ())
            found = _layered(tags, prefix, part, hidden_only, nested=False, outputs=self.output_layers)
            self._layered[key] = self._sorted(found)
        return self._layered[key]

    def hist_layered(self, prefix: str, part: str = "", hidden_only: bool = False) -> list[tuple[str, str]]:
        """(layer, tag) for histogram tags named prefix/<layer...>[/part], input side first."""
        key = ("hist", prefix, part, hidden_only)
        if key not in self._layered:
            tags = self._present("hist").get(prefix, ())
            found = _layered(tags, prefix, part, hidden_only, nested=True, outputs=self.output_layers)
            self._layered[key] = self._sorted(found)
        return self._layered[key]

    def _sorted(self, found: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Input side first: by the log's own layer order when it gives one (Keras), else by name."""
        if not self._order:
            return found
        return sorted(found, key=lambda item: (item[0] in self.output_layers, self._order.get(item[0].split("/")[0], 1 << 20)))

    def recent(self, tag: str, min_steps: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Records covering the last `min_steps` steps (or EPOCH_MIN_SPAN epochs), at least
        min_records of them; None while the run is shorter than that."""
        span = T.EPOCH_MIN_SPAN if self.per_epoch else min_steps
        steps, values = self.tail(tag)
        if steps.size < self.min_records or steps[-1] - steps[0] < span:
            return None
        keep = steps >= steps[-1] - span
        if keep.sum() < self.min_records:
            keep = np.arange(steps.size) >= steps.size - self.min_records
        return steps[keep], values[keep]

    # --- values ---------------------------------------------------------------
    def tail(self, tag: str, records: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the last `records` (default: tail_records) train records up to upto."""
        count = self.tail_records if records is None else min(records, self.tail_records)
        key = (tag, count)
        if key not in self._tail:
            series = self.history.train.get(tag)
            if series is None:
                self._tail[key] = _EMPTY
            else:
                end = self._count(series)
                start = max(0, end - count)
                self._tail[key] = (np.asarray(series.steps[start:end], dtype=np.int64),
                                   np.asarray(series.values[start:end], dtype=np.float64))
        return self._tail[key]

    def head(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the first head_records train records (up to upto)."""
        if tag not in self._head:
            series = self.history.train.get(tag)
            if series is None:
                self._head[tag] = _EMPTY
            else:
                end = min(self._count(series), self.head_records)
                self._head[tag] = (np.asarray(series.steps[:end], dtype=np.int64),
                                   np.asarray(series.values[:end], dtype=np.float64))
        return self._head[tag]

    def val_tail(self, tag: str, records: int = T.TAIL_RECORDS) -> tuple[np.ndarray, np.ndarray]:
        series = self.history.val.get(tag)
        if series is None:
            return _EMPTY
        end = self._count(series)
        start = max(0, end - records)
        return (np.asarray(series.steps[start:end], dtype=np.int64),
                np.asarray(series.values[start:end], dtype=np.float64))

    def hists(self, tag: str) -> list[HistogramSnapshot]:
        return [s for s in self.history.histograms.get(tag, ()) if s.step <= self.upto]

    def held_since(self, tag: str, holds) -> int | None:
        """First step of the unbroken run of records, ending at upto, for which holds(values) is true.

        Walks back past the tail in chunks only while it still holds, so it costs little."""
        series = self.history.train.get(tag)
        if series is None:
            return None
        end = self._count(series)
        index = end
        while index > 0:
            low = max(0, index - 256)
            ok = np.asarray(holds(np.asarray(series.values[low:index], dtype=np.float64)), dtype=bool)
            if ok.all():
                index = low
                continue
            index = low + int(np.flatnonzero(~ok)[-1]) + 1
            break
        return series.steps[index] if index < end else None

    @property
    def chance_loss(self) -> float:
        """The loss of a net that learned nothing about the images: the entropy of the
        training label prior when the run's class balance is known, else ln K."""
        return self.balance.prior_loss if self.balance else chance_loss(self.num_classes)

    @property
    def chance_loss_name(self) -> str:
        balanced = self.balance is None or len(set(self.balance.train)) == 1
        return f"ln {self.num_classes}" if balanced else "entropy of the training labels"

    @property
    def chance_accuracy(self) -> float:
        """Training accuracy of predicting the most frequent label for everything (1/K when balanced)."""
        return max(self.balance.train) / sum(self.balance.train) if self.balance else 1 / self.num_classes

    def first_step(self) -> int:
        steps = [s.steps[0] for s in self.history.train.values() if s.steps]
        return min(steps, default=0)

    def model(self) -> dict:
        """The model a foreign log describes (core/tensorboard/model_config.py), or {}."""
        if self._model is None:
            self._model = dict(self.history.facts.model)
        return self._model

    def config_value(self, key: str):
        """A field of the run's own RunConfig (tblab logs only), or None."""
        if self._config is None:
            self._config = dict(self.history.facts.config)
        return self._config.get(key)


def _layered(tags: list[str], prefix: str, part: str, hidden_only: bool, nested: bool,
             outputs: set[str] = frozenset({OUTPUT_LAYER})) -> list[tuple[str, str]]:
    suffix = f"/{part}" if part else ""
    found = []
    for tag in tags:
        if not (tag.startswith(prefix + "/") and tag.endswith(suffix)):
            continue
        layer = tag[len(prefix) + 1: len(tag) - len(suffix)] if suffix else tag[len(prefix) + 1:]
        if not layer or (hidden_only and layer.split("/")[0] in outputs) or ("/" in layer and not nested):
            continue
        found.append((layer, tag))
    return sorted(found, key=lambda item: layer_order(item[0].split("/")[0]))


def run_last_step(history: History) -> int:
    """The last training step recorded; for logs without train scalars, the last test-set
    value or histogram (Keras writes some validation values in iterations, others in epochs,
    so mixing them into a train-step count would mislead)."""
    last = history.last_step()
    if last >= 0:
        return last
    for series in history.val.values():
        if series.steps:
            last = max(last, series.steps[-1])
    for snaps in history.histograms.values():
        if snaps:
            last = max(last, max(s.step for s in snaps))
    return last


def _num_classes(history: History) -> int:
    value = history.facts.num_classes or NUM_CLASSES
    return value if value >= 2 else NUM_CLASSES

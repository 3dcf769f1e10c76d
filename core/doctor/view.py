"""RunView: the doctor's read-only window onto a History up to one step.

Rules look only at the first few records (how the run started) and the last
few (how it is going now), so a check costs the same at step 50 as at step
50 000, and the live and offline paths read a History the same way.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from fnmatch import fnmatchcase

import numpy as np

from core.doctor import thresholds as T
from core.history import OUTPUT_LAYER, HistogramSnapshot, History, Series, layer_order

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class RunView:
    """Windowed, cached access to a History's records with step <= upto."""

    def __init__(self, history: History, upto: int | None = None,
                 tail: int = T.TAIL_RECORDS, head: int = T.HEAD_RECORDS) -> None:
        self.history = history
        self.upto = history.last_step() if upto is None else upto
        self.tail_records = tail
        self.head_records = head
        self._tail: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._head: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.num_classes = _num_classes(history)

    # --- which tags exist ---------------------------------------------------
    def _count(self, series: Series) -> int:
        return bisect_right(series.steps, self.upto)

    def has(self, tag: str) -> bool:
        series = self.history.train.get(tag)
        return series is not None and self._count(series) > 0

    def has_val(self, tag: str) -> bool:
        series = self.history.val.get(tag)
        return series is not None and self._count(series) > 0

    def has_hist(self, tag: str) -> bool:
        return any(s.step <= self.upto for s in self.history.histograms.get(tag, ()))

    def matches(self, pattern: str) -> bool:
        """True if a tag matching pattern is present; 'hist:' and 'val:' select those kinds."""
        if pattern.startswith("hist:"):
            return any(fnmatchcase(t, pattern[5:]) and self.has_hist(t) for t in self.history.histograms)
        if pattern.startswith("val:"):
            return any(fnmatchcase(t, pattern[4:]) and self.has_val(t) for t in self.history.val)
        return any(fnmatchcase(t, pattern) and self.has(t) for t in self.history.train)

    def layered(self, prefix: str, suffix: str = "", hidden_only: bool = False) -> list[tuple[str, str]]:
        """(layer, tag) for tags named prefix/<layer>suffix, input side first."""
        found = []
        for tag in self.history.train:
            if tag.startswith(prefix + "/") and tag.endswith(suffix) and self.has(tag):
                layer = tag[len(prefix) + 1: len(tag) - len(suffix)] if suffix else tag[len(prefix) + 1:]
                if "/" in layer or (hidden_only and layer == OUTPUT_LAYER):
                    continue
                found.append((layer, tag))
        return sorted(found, key=lambda item: layer_order(item[0]))

    def hist_layered(self, prefix: str, suffix: str = "", hidden_only: bool = False) -> list[tuple[str, str]]:
        found = []
        for tag in self.history.histograms:
            if tag.startswith(prefix + "/") and tag.endswith(suffix) and self.has_hist(tag):
                layer = tag[len(prefix) + 1: len(tag) - len(suffix)] if suffix else tag[len(prefix) + 1:]
                if hidden_only and layer == OUTPUT_LAYER:
                    continue
                found.append((layer, tag))
        return sorted(found, key=lambda item: layer_order(item[0]))

    # --- values ---------------------------------------------------------------
    def tail(self, tag: str, records: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the last `records` train records up to upto."""
        if tag not in self._tail:
            series = self.history.train.get(tag)
            if series is None:
                self._tail[tag] = _EMPTY
            else:
                end = self._count(series)
                start = max(0, end - self.tail_records)
                self._tail[tag] = (np.asarray(series.steps[start:end], dtype=np.int64),
                                   np.asarray(series.values[start:end], dtype=np.float64))
        steps, values = self._tail[tag]
        if records is not None:
            return steps[-records:], values[-records:]
        return steps, values

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

    def first_step(self) -> int:
        steps = [s.steps[0] for s in self.history.train.values() if s.steps]
        return min(steps, default=0)

    def config_value(self, key: str):
        """A field of the run's own RunConfig (tblab logs only), or None."""
        text = self.history.meta.get("config")
        if not text:
            return None
        if "_config" not in self.__dict__:
            import json

            try:
                self._config = json.loads(text)
            except ValueError:
                self._config = {}
        return self._config.get(key) if isinstance(self._config, dict) else None


def _num_classes(history: History) -> int:
    try:
        value = int(history.meta.get("num_classes", T.NUM_CLASSES))
    except (TypeError, ValueError):
        value = T.NUM_CLASSES
    return value if value >= 2 else T.NUM_CLASSES


def chance_loss(num_classes: int) -> float:
    """Cross-entropy of a uniform guess: ln K."""
    return math.log(num_classes)


def softmax_floor(num_classes: int) -> float:
    """Lowest loss when probabilities are fed as logits: ln(1 + (K-1)/e)."""
    return math.log(1.0 + (num_classes - 1) / math.e)

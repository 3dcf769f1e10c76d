"""The class balance of a run's data: how many train and test examples each label has.

The doctor's fingerprints depend on it (what a net that learned only the class prior
scores, what NaN logits score), so they are computed from the data the run used, not
from full MNIST's counts. Runs carry it in their RunFacts, written as a text tag META_KEY in JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

META_KEY = "class_balance"


@dataclass(frozen=True)
class ClassBalance:
    """Examples per label, label 0 first."""

    train: tuple[int, ...]
    test: tuple[int, ...]

    @classmethod
    def of(cls, y_train, y_test) -> ClassBalance:
        """Counted from label arrays (ints 0..K-1)."""
        k = int(max(np.max(y_train, initial=0), np.max(y_test, initial=0))) + 1
        count = lambda y: tuple(int(n) for n in np.bincount(np.asarray(y, dtype=np.int64), minlength=k))
        return cls(count(y_train), count(y_test))

    def to_json(self) -> str:
        return json.dumps({"train": list(self.train), "test": list(self.test)})

    @classmethod
    def from_json(cls, text: str | None) -> ClassBalance | None:
        """None for missing or malformed text (a foreign log, a hand-edited file)."""
        try:
            data = json.loads(text or "")
            train, test = tuple(int(n) for n in data["train"]), tuple(int(n) for n in data["test"])
        except (ValueError, TypeError, KeyError):
            return None
        if len(train) != len(test) or len(train) < 2 or min(train + test) < 0 or not sum(train) or not sum(test):
            return None
        return cls(train, test)

    @property
    def num_classes(self) -> int:
        return len(self.train)

    def test_share(self, label: int) -> float:
        return self.test[label] / sum(self.test)

    @property
    def test_resolution(self) -> float:
        """Test accuracy moves in steps of one example: 1 / (test examples)."""
        return 1.0 / sum(self.test)

    @property
    def majority(self) -> int | None:
        """The label a net that learned only the training prior predicts for every input
        (None when several labels tie: then no prediction singles one out)."""
        top = max(self.train)
        return self.train.index(top) if self.train.count(top) == 1 else None

    @property
    def prior_loss(self) -> float:
        """Cross-entropy of predicting the training prior: the loss of a net that learned
        nothing about the images (ln K when the classes are balanced)."""
        total = sum(self.train)
        return -sum(n / total * math.log(n / total) for n in self.train if n)

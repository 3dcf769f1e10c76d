"""The training data of one foreign run, with the data bug its spec asks for."""

from __future__ import annotations

import numpy as np

from foreign_logs.suite import RunSpec


def prepare(spec: RunSpec, x_train, y_train, x_test, y_test):
    """(x_train, y_train, x_test, y_test) as float32 / int64, with the spec's data bug."""
    rng = np.random.default_rng(spec.seed)
    train = x_train.astype(np.float32)
    test = x_test.astype(np.float32)
    if spec.inputs == "unit":
        train, test = train / 255.0, test / 255.0
    elif spec.inputs == "raw":
        pass  # the bug: 0-255 pixels straight into the net
    elif spec.inputs.startswith("noise:"):
        train, test = train / 255.0, test / 255.0  # the writer adds fresh noise to each training batch
    elif spec.inputs == "nanstd":
        # The bug: per-pixel standardisation; border pixels never light up, so 0 / 0.
        mean, std = train.mean(axis=0) / 255.0, train.std(axis=0) / 255.0
        with np.errstate(divide="ignore", invalid="ignore"):
            train = ((train / 255.0 - mean) / std).astype(np.float32)
            test = ((test / 255.0 - mean) / std).astype(np.float32)
    else:
        raise ValueError(spec.inputs)
    labels = rng.permutation(y_train) if spec.shuffle_labels else y_train
    return train, labels.astype(np.int64), test, y_test.astype(np.int64)


def noise_std(spec: RunSpec) -> float:
    """Std of the Gaussian noise added to every training batch (augmentation gone wrong); 0 for none."""
    return float(spec.inputs.split(":")[1]) if spec.inputs.startswith("noise:") else 0.0


def init_range(spec: RunSpec) -> tuple[str, float]:
    """The spec's init as (kind, scale): kind default | uniform | normal | negative | zeros."""
    if ":" in spec.init:
        kind, scale = spec.init.split(":")
        return kind, float(scale)
    return spec.init, 0.0


def drawn_kernel(spec: RunSpec, rng, fan_in: int, fan_out: int, output: bool) -> np.ndarray | None:
    """The spec's own kernel init drawn in numpy (all-zero kernels include the output layer's),
    or None where the writer's default init applies."""
    kind, scale = init_range(spec)
    shape = (fan_in, fan_out)
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "default" or output:
        return None
    if kind == "uniform":
        return rng.uniform(-scale, scale, shape)
    if kind == "normal":
        return rng.normal(0.0, scale, shape)
    if kind == "negative":
        return rng.uniform(-scale, 0.0, shape)
    raise ValueError(spec.init)

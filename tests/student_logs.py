"""A tiny MLP's training logged with tf.summary the way students instrument their own code,
in several real naming styles (tests/test_reading.py, tests/test_diagnose_folder.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tensorflow as tf

SIZES = (12, 6, 5, 3)  # a tiny MLP: 12 inputs, hidden 6 and 5, 3 classes
STEPS = 30


def var_names(style: str) -> list[tuple[str, str]]:
    """(kernel, bias) variable names of each layer, input side first, as each style writes them."""
    layers = range(len(SIZES) - 1)
    last = len(SIZES) - 2
    return {
        "tf_vname": [(f"w{i}:0", f"b{i}:0") if i < last else ("wout:0", "bout:0") for i in layers],
        "keras_vname": [(f"dense_{i + 3}/kernel:0", f"dense_{i + 3}/bias:0") for i in layers],
        "keras_sequential": [(f"sequential/dense{'_' + str(i) if i else ''}/kernel:0",
                              f"sequential/dense{'_' + str(i) if i else ''}/bias:0") for i in layers],
        "pytorch": [(f"fc{i + 1}.weight", f"fc{i + 1}.bias") for i in layers],
        "capitalised": [(f"W_{i + 1}", f"B_{i + 1}") for i in layers],
        "scoped": [(f"model/layer{i + 1}/weights", f"model/layer{i + 1}/biases") for i in layers],
    }[style]


# style -> (loss tag, accuracy tag, test accuracy tag, grad norm tag of a variable, weight histogram tag)
STYLES = {
    "tf_vname": ("loss", "accuracy", "test_accuracy", "grad_norm/{v}", "{v}"),
    "keras_vname": ("train_loss", "train_accuracy", "test/acc", "gradients/{v}", "weights/{v}"),
    "keras_sequential": ("metrics/loss", "metrics/accuracy", "metrics/test_accuracy", "gradients/{v}", "{v}"),
    "pytorch": ("Loss/train", "Accuracy/train", "Accuracy/test", "grad_norm/{v}", "{v}"),
    "capitalised": ("Train/XEnt", "Train/Correct", "Test/Correct", "GradNorm/{v}", "Weights/{v}"),
    "scoped": ("train/cross_entropy_1", "train/acc", "eval/accuracy", "{v}_grad_l2", "{v}"),
}


def write_student_run(folder: Path, style: str, *, loss_tag=None, acc_tag=None, end_test=True,
                      classes: int = SIZES[-1]) -> None:
    """The same training, logged in one style: per step loss, accuracy and each variable's
    gradient norm; every 5 steps each variable's histogram; a test accuracy at the end."""
    loss_name, acc_name, test_name, grad_name, weight_name = STYLES[style]
    loss_name, acc_name = loss_tag or loss_name, acc_tag or acc_name
    rng = np.random.default_rng(0)
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        for step in range(STEPS):
            loss = math.log(classes) * math.exp(-step / 10) + 0.1
            tf.summary.scalar(loss_name, loss, step=step)
            tf.summary.scalar(acc_name, 1 - loss / (math.log(classes) + 0.1) + rng.normal(0, 0.01), step=step)
            for index, (kernel, bias) in enumerate(var_names(style)):
                tf.summary.scalar(grad_name.format(v=kernel), 0.5 / (index + 1), step=step)
                tf.summary.scalar(grad_name.format(v=bias), 0.1, step=step)
                if step % 5 == 0:
                    fan_in, fan_out = SIZES[index], SIZES[index + 1]
                    tf.summary.histogram(weight_name.format(v=kernel), rng.normal(size=fan_in * fan_out), step=step)
                    tf.summary.histogram(weight_name.format(v=bias), np.zeros(fan_out) + step * 1e-3, step=step)
        if end_test:
            tf.summary.scalar(test_name, 0.9, step=STEPS - 1)
    writer.close()

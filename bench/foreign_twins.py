"""Runs with different causes whose logs are the same: what no doctor can tell apart.

    python bench/foreign_twins.py [--steps 600]

Each pair is written by the suite's own writers (bench/foreign_logs/) with the same seed,
sizes, optimizer and data order, and differs only in its cause. The two logs are read back
as `tblab diagnose` reads them and every logged series is compared value by value. When
they match, that writer's log holds nothing that tells the causes apart, so one of each pair
is the most any diagnosis of such a log can name right:

  flat            symmetric_init (tanh, all-zero init)   vs  dead_relu (ReLU, all-negative init)
                  both: no hidden unit outputs anything, only the output bias learns
  keras_defaults  nonfinite (NaN pixels, ReLU)            vs  dead_relu (ReLU, all-negative init)
                  both: ReLU outputs 0 (relu(NaN) is 0 in TensorFlow), the loss stays finite at the prior;
                  only the model config differs (its kernel init), which clears the init but names no cause

Measured (600 steps, offline sample): both pairs identical in every series, largest difference 0
(flat: 10 series, keras_defaults: 7).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from foreign_logs import keras_writer, loop_writer, mnist_sample
from foreign_logs.inputs import prepare
from foreign_logs.suite import RunSpec

from core.tensorboard.reader import read_run


def pairs(steps: int) -> list[tuple[str, RunSpec, RunSpec]]:
    flat = RunSpec(name="", writer="flat", label="", hidden=(100, 100), optimizer="sgd", lr=0.1, steps=steps, seed=11)
    keras = RunSpec(name="", writer="keras_defaults", label="", hidden=(64,), optimizer="sgd", lr=0.05, steps=steps,
                    seed=12, histogram_freq=0, update_freq="epoch")
    return [
        ("flat", replace(flat, label="symmetric_init", activation="tanh", init="zeros"),
         replace(flat, label="dead_relu", activation="relu", init="negative:0.1")),
        ("keras_defaults", replace(keras, label="nonfinite", inputs="nanstd"),
         replace(keras, label="dead_relu", init="negative:0.1")),
    ]


def largest_difference(a, b) -> tuple[int, float]:
    """(series compared, largest absolute difference between matching values)."""
    compared, worst = 0, 0.0
    for section_a, section_b in ((a.train, b.train), (a.val, b.val)):
        assert set(section_a) == set(section_b), (sorted(section_a), sorted(section_b))
        for tag, series in section_a.items():
            other = section_b[tag]
            assert series.steps == other.steps
            compared += 1
            worst = max([worst, *(abs(x - y) for x, y in zip(series.values, other.values))])
    return compared, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    data = mnist_sample.load()[:4]
    with tempfile.TemporaryDirectory() as tmp:
        for writer, first, second in pairs(args.steps):
            logs = []
            for spec in (first, second):
                logdir = Path(tmp) / writer / spec.label
                (keras_writer if writer.startswith("keras") else loop_writer).write(spec, str(logdir), *prepare(spec, *data))
                logs.append(read_run(logdir))
            compared, worst = largest_difference(*logs)
            print(f"{writer:15s} {first.label} vs {second.label}: {compared} series, largest difference {worst:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

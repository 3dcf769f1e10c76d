"""The student-instrumentation suite: the five classic course failures, the script as handed
out and each one repaired, instrumented by hand the way the assignment suggests, in several
personal styles (bench/foreign_logs/student_writer.py says how each style names things).

The scripts follow the course handout (docs: /work/shared/design/FAILS.md): 784-100-...-10
MLPs, biases at 0, weights from a uniform range, batch 128, plain SGD at 0.1 written as
`var.assign_sub(lr * grad)`. Only the cause differs between a failing script and its repair.
Labels are the answer key; the doctor never sees them.
"""

from __future__ import annotations

from dataclasses import replace

from foreign_logs.suite import HEALTHY, RunSpec

STYLES = ("vname", "scoped", "keras_ish", "torch_ish", "per_epoch", "camel")
# vname     : tf.summary.histogram(v.name, v) -> w0:0, b0:0; grad_w0:0; loss, accuracy; test_accuracy at the end
# scoped    : metrics/loss, metrics/accuracy, gradients/w0, weights/w0, activations/h1, test/acc at the end
# keras_ish : variables named like Keras' (dense/kernel:0, dense_1/kernel:0 ...); loss,
#             sparse_categorical_accuracy, grad_norm/dense_1/kernel:0, evaluation/accuracy at the end
# torch_ish : Loss/train, Accuracy/train, fc1.weight, fc1.bias, grad_norm/fc1.weight, Loss/test each
#             evaluation, Accuracy/test at the end
# per_epoch : once per epoch (means over its batches): train/xent, train/correct, W1, b1, W1_grad,
#             hidden1; test/correct at the end
# camel     : Loss, Accuracy, W1, B1, GradNorm_W1, Act1 every 10 steps; TestAccuracy at the end

_COURSE = RunSpec(name="", writer="", label="", hidden=(100, 100), init="uniform:0.1", lr=0.1, batch=128,
                  optimizer="sgd", steps=2000, activation_hists=True)

# (script, label, settings): the handout's five failures, the baseline, and each failure repaired.
SCRIPTS = (
    ("fail1", "exploding", {"hidden": (100,) * 8, "init": "uniform:0.4"}),
    ("fail2", "vanishing", {"hidden": (100,) * 8, "activation": "sigmoid"}),
    ("fail3", "dead_relu", {"init": "negative:0.1"}),
    ("fail4", "input_noise", {"inputs": "noise:4.0"}),
    ("fail5", "loss_floor", {"softmax_out": True}),
    ("baseline", HEALTHY, {}),
    ("fail1_fixed", HEALTHY, {"hidden": (100,) * 8, "init": "default", "lr": 0.01}),  # He init (and a sane step)
    ("fail2_fixed", HEALTHY, {"hidden": (100,) * 3, "init": "default"}),  # ReLU, He init, fewer layers
    ("fail3_fixed", HEALTHY, {}),  # zero-centred U(-0.1, 0.1)
    ("fail4_fixed", HEALTHY, {"inputs": "noise:0.3"}),  # noise scaled to the data
    ("fail5_fixed", HEALTHY, {"hidden": (100,)}),  # raw logits to the loss (and one layer)
)

# How often each style writes: (scalar every N steps, histograms/images/test every N steps).
CADENCE = {"vname": (1, 100), "scoped": (1, 50), "keras_ish": (5, 100), "torch_ish": (1, 200),
           "per_epoch": (0, 0), "camel": (10, 100)}


def student_suite(repeats: int = 1) -> list[RunSpec]:
    """Every script in every style, `repeats` times with other seeds (so one miss is not 8%)."""
    runs = []
    for k, style in enumerate(STYLES):
        for r in range(repeats):
            for index, (script, label, settings) in enumerate(SCRIPTS):
                suffix = f"_{r}" if repeats > 1 else ""
                spec = replace(_COURSE, name=f"students/{style}/{script}{suffix}", writer=style, label=label,
                               seed=5000 + 100 * k + 10 * r + index, **settings)
                runs.append(spec)
    return runs

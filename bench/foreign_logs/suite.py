"""Which foreign runs to write, and the answer key: what is wrong with each.

Every failing category the doctor knows gets one run per writer, and each writer gets
healthy runs; sizes, seeds, optimisers and learning rates vary from writer to writer so
that no threshold can be tuned to one run. The label is the evaluation's answer key: the
doctor never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

WRITERS = ("keras", "flat", "split", "scoped", "tutorial", "keras_defaults")
# keras : Keras' TensorBoard callback (train/ + validation/, model config in the `keras` tag)
# flat  : one folder; loss, accuracy, test_accuracy, grad_norm_w0 / grad_norm_b0 ...
# split : train/ + test/ folders; loss, accuracy; w0_grad_norm ...; histograms layer1, layer1_offset
# scoped: one folder; train_loss, train_acc, test_acc; gradnorm/w0 ...; histograms `weights` (first
#         layer) and `logits`
# tutorial: TensorFlow's TF1 `mnist_with_summaries` example: train/ + test/, legacy protos,
#         cross_entropy_1, accuracy_1, layerN/weights/summaries/..., activations; no gradient norms
# keras_defaults: Keras' callback as most people leave it, `TensorBoard(logdir)`: epoch_loss and
#         epoch_accuracy once per epoch (train/ + validation/) and the model config; no histograms

CATEGORIES = (
    "nonfinite", "exploding", "vanishing", "dead_relu", "saturated", "input_scale", "input_noise",
    "loss_floor", "lr_too_high", "lr_too_low", "shuffled_labels", "symmetric_init",
)
HEALTHY = "healthy"


@dataclass(frozen=True)
class RunSpec:
    """One run to write: the model, how it is trained, what goes wrong, how it is logged."""

    name: str
    writer: str
    label: str  # a category, or HEALTHY
    hidden: tuple[int, ...]  # hidden layer widths, input side first
    activation: str = "relu"  # relu | sigmoid | tanh
    init: str = "default"  # default (glorot/he) | uniform:A | normal:S | negative:A | zeros
    bias_init: float = 0.0
    optimizer: str = "sgd"  # sgd | momentum | adam
    lr: float = 0.1
    batch: int = 64
    steps: int = 600
    inputs: str = "unit"  # unit ([0, 1]) | raw (0-255) | noise:S | nanstd (0/0 standardisation)
    softmax_out: bool = False  # probabilities handed to a loss that expects logits
    shuffle_labels: bool = False
    seed: int = 0
    histogram_freq: int = 1  # keras: epochs between weight histograms
    update_freq: object = "batch"  # keras: "batch", "epoch" or an int
    functional: bool = False  # keras: functional model instead of Sequential
    hist_every: int = 50  # loops: steps between histograms and test evaluations
    activation_hists: bool = False  # loops: per-layer activation histograms too


def _failing(category: str, k: int) -> dict:
    """Settings that produce `category`, varied by writer index k (0-3)."""
    width = (64, 100, 48, 128)[k]
    if category == "nonfinite":  # per-pixel standardisation: border pixels have std 0, 0/0 = NaN
        return {"hidden": (width,) * (1 + k % 2), "activation": ("relu", "tanh", "sigmoid", "relu")[k],
                    "inputs": "nanstd", "optimizer": ("sgd", "adam")[k % 2], "lr": (0.05, 1e-3)[k % 2]}
    if category == "exploding":  # init far too large for the width, many ReLU layers
        return {"hidden": (width,) * (6 + k % 3), "init": ("uniform:0.45", "normal:0.25", "uniform:0.6", "normal:0.2")[k],
                    "lr": (0.01, 0.001, 0.005, 0.002)[k], "optimizer": ("sgd", "momentum", "sgd", "adam")[k]}
    if category == "vanishing":  # deep sigmoid net with a small init
        return {"hidden": (32 + 8 * k,) * (6 + k % 3), "activation": "sigmoid",
                    "init": ("uniform:0.1", "normal:0.05", "uniform:0.08", "normal:0.06")[k], "lr": (0.1, 0.2, 0.05, 0.1)[k]}
    if category == "dead_relu":  # every pre-activation negative: negative weights or a large negative bias
        if k % 2 == 0:
            return {"hidden": (width,) * (1 + k // 2), "init": "negative:0.1", "lr": 0.1}
        return {"hidden": (width,) * (1 + k // 2), "bias_init": -4.0, "lr": 0.05, "optimizer": "momentum"}
    if category == "saturated":  # sigmoid/tanh with weights far too large for the input's width
        return {"hidden": (width,) * (2 + k % 2), "activation": ("sigmoid", "tanh")[k % 2],
                    "init": ("normal:1.0", "uniform:1.5", "normal:0.7", "uniform:2.0")[k], "lr": (0.05, 0.01, 0.1, 0.02)[k]}
    if category == "input_scale":  # raw 0-255 pixels
        return {"hidden": (width,) * (1 + k % 2), "activation": ("relu", "sigmoid", "relu", "tanh")[k], "inputs": "raw",
                    "optimizer": ("sgd", "adam", "momentum", "sgd")[k], "lr": (0.01, 1e-3, 0.005, 0.05)[k]}
    if category == "input_noise":  # training images drowned in noise; the test images are clean
        return {"hidden": (width,) * (1 + k % 2), "inputs": f"noise:{(4.0, 3.0, 2.5, 3.5)[k]}",
                    "optimizer": ("adam", "sgd", "momentum", "adam")[k], "lr": (1e-3, 0.05, 0.01, 2e-3)[k], "steps": 900}
    if category == "loss_floor":  # softmax output fed to a loss that applies softmax again
        return {"hidden": (width,) * (1 + k % 2), "softmax_out": True,
                    "optimizer": ("adam", "sgd", "adam", "momentum")[k], "lr": (1e-3, 0.5, 3e-3, 0.1)[k], "steps": 1000}
    if category == "lr_too_high":
        return {"hidden": (width,) * (1 + k % 2), "activation": ("relu", "relu", "tanh", "relu")[k],
                    "optimizer": ("adam", "sgd", "sgd", "adam")[k], "lr": (0.3, 2.5, 4.0, 0.2)[k]}
    if category == "lr_too_low":
        return {"hidden": (width,) * (1 + k % 2), "activation": ("relu", "tanh", "sigmoid", "relu")[k],
                    "optimizer": ("sgd", "sgd", "adam", "momentum")[k], "lr": (1e-5, 3e-5, 1e-6, 2e-6)[k]}
    if category == "shuffled_labels":
        return {"hidden": (width,) * (1 + k % 2), "shuffle_labels": True,
                    "optimizer": ("adam", "sgd", "momentum", "adam")[k], "lr": (1e-3, 0.1, 0.02, 2e-3)[k], "steps": 900}
    if category == "symmetric_init":
        return {"hidden": (width,) * (1 + k % 2), "activation": ("sigmoid", "tanh", "relu", "sigmoid")[k], "init": "zeros",
                    "lr": (0.5, 0.1, 0.1, 0.5)[k]}
    raise ValueError(category)


# Healthy runs: depths 1-5, every activation, SGD / momentum / Adam, several learning rates
# and batch sizes (activation, hidden widths, optimizer, lr, batch).
_HEALTHY = (
    ("relu", (128,), "sgd", 0.1, 64),
    ("sigmoid", (64,), "sgd", 0.5, 32),
    ("tanh", (100, 50), "momentum", 0.02, 64),
    ("relu", (64, 64, 64), "adam", 1e-3, 128),
    ("relu", (96, 64, 48, 32), "adam", 2e-3, 64),
    ("tanh", (64,), "adam", 3e-3, 32),
    ("relu", (128, 64), "sgd", 0.05, 32),
    ("sigmoid", (100, 50), "adam", 2e-3, 64),
    ("relu", (64, 64, 64, 64, 64), "momentum", 0.01, 64),
    ("tanh", (48, 48, 48), "sgd", 0.05, 64),
    ("relu", (32,), "adam", 5e-3, 128),
    ("sigmoid", (128,), "momentum", 0.05, 64),
    ("relu", (100, 100), "adam", 1e-3, 32),
    ("tanh", (96, 64, 32), "adam", 1e-3, 128),
    ("relu", (80, 60, 40, 30, 20), "adam", 1e-3, 64),
    ("sigmoid", (64, 32), "momentum", 0.1, 32),
)

# Keras' logging settings, varied across its runs: (histogram_freq, update_freq, functional).
_KERAS_LOGGING = (
    (1, "batch", False), (1, "epoch", True), (2, "batch", True), (1, 10, False), (1, "batch", True), (3, "epoch", False),
)


def suite() -> list[RunSpec]:
    runs = []
    for k, writer in enumerate(WRITERS):
        for index, category in enumerate(CATEGORIES):
            variant = k if k < 4 else index % 4  # writers past the fourth mix the four variants
            runs.append(_for_writer(RunSpec(name=f"{writer}/{category}", writer=writer, label=category,
                                            seed=100 * k + index, **_failing(category, variant)), k, index))
        for h in range(4):
            act, hidden, opt, lr, batch = _HEALTHY[(4 * k + h) % len(_HEALTHY)]
            spec = RunSpec(name=f"{writer}/healthy_{h}", writer=writer, label=HEALTHY, hidden=hidden, activation=act,
                           optimizer=opt, lr=lr, batch=batch, seed=1000 + 10 * k + h, steps=(600, 900, 750, 1200)[h])
            runs.append(_for_writer(spec, k, h + 3))
    return runs


def _for_writer(spec: RunSpec, k: int, index: int) -> RunSpec:
    if spec.writer == "keras_defaults":
        return replace(spec, histogram_freq=0, update_freq="epoch", functional=index % 2 == 0)
    if spec.writer == "keras":
        freq, update, functional = _KERAS_LOGGING[index % len(_KERAS_LOGGING)]
        return replace(spec, histogram_freq=freq, update_freq=update, functional=functional)
    # loops: activation histograms in about half the runs, histograms every 25-100 steps
    return replace(spec, activation_hists=(index + k) % 2 == 0, hist_every=(50, 25, 100, 50)[index % 4])

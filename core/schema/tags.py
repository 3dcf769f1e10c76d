"""Tag names: the one spelling of every metric tblab records, and the reference losses
(chance, the softmax-twice floor) that plots and the doctor draw against.

Per-layer tags are `<prefix>/<layer>` (activations, unit fractions) or
`<prefix>/<layer>/<kernel|bias>` (per-variable norms): build them with `layer_tag`.
Histogram tags use the same scheme with their own prefixes. Other programs' logs are
mapped onto these names by core/tensorboard/tag_styles.py.
"""

from __future__ import annotations

import math

# --- scalars: whole-model values, train batch (in History.train) or test set (History.val)
LOSS = "loss"
ACCURACY = "accuracy"
GRAD_NORM_GLOBAL = "grad_norm/global"
NONFINITE_COUNT = "nonfinite/count"  # NaN/Inf values in loss, logits, gradients and weights
NONFINITE_HISTOGRAM_DROPPED = "nonfinite/histogram_dropped"  # values left out of the histograms
INPUT_MIN = "input/min"
INPUT_MAX = "input/max"
INPUT_MEAN = "input/mean"
INPUT_STD = "input/std"
INPUT_STATS = (INPUT_MIN, INPUT_MAX, INPUT_MEAN, INPUT_STD)  # the batch the model sees
INPUT_IMAGES = "input/images"  # an image summary
# 1 when the loss was handed rows of probabilities (in [0, 1], summing to 1) instead of
# logits; measured for watched scripts, whose loss call is seen, not configured.
LOSS_INPUT_PROBABILITIES = "loss_input/probabilities"

# --- scalars per layer or variable: prefix/<layer>[/<part>]
GRAD_NORM = "grad_norm"  # per-variable gradient L2 norm
WEIGHT_NORM = "weight_norm"  # per-variable weight L2 norm
UPDATE_RATIO = "update_ratio"  # |update| / |weight| of the step
ACTIVATION_MEAN = "activation_mean"  # hidden layers only
ACTIVATION_STD = "activation_std"
DEAD_FRACTION = "dead_fraction"  # units at 0 for the whole batch (ReLU)
SATURATED_FRACTION = "saturated_fraction"  # outputs within 1% of an asymptote (sigmoid/tanh)
LAYERED = (GRAD_NORM, WEIGHT_NORM, UPDATE_RATIO, ACTIVATION_MEAN, ACTIVATION_STD, DEAD_FRACTION, SATURATED_FRACTION)
KERNEL = "kernel"
BIAS = "bias"

# --- histograms per layer or variable
WEIGHTS = "weights"
GRADIENTS = "gradients"
ACTIVATIONS = "activations"
LOGITS = "logits"  # what the loss was handed (other programs' logs; see core/tensorboard/tag_styles.py)

OUTPUT_LAYER = "output"  # layers are dense_1 ... dense_L (hidden, input side first), then output

# --- snapshots: every histogram_every steps
HISTOGRAM_BUCKETS = 30  # rows of (left edge, right edge, count) per histogram
IMAGES_SHOWN = 8  # the step's first inputs kept with a snapshot
IMAGE_SIDE = 28  # MNIST's 28 x 28 pixels
INPUT_DIM = IMAGE_SIDE * IMAGE_SIDE  # 784: an image as one input row


def hidden_layer(index: int) -> str:
    """The name of hidden layer `index` (1 is next to the input): dense_1 ... dense_L."""
    return f"dense_{index}"


def layer_tag(prefix: str, layer: str, part: str = "") -> str:
    """`grad_norm/dense_1/kernel` from (GRAD_NORM, "dense_1", KERNEL); `dead_fraction/dense_1` without a part."""
    return f"{prefix}/{layer}/{part}" if part else f"{prefix}/{layer}"


# --- reference losses for K classes -----------------------------------------------
NUM_CLASSES = 10  # MNIST's digits: the output layer's width


def chance_loss(num_classes: int = NUM_CLASSES) -> float:
    """Cross-entropy of a uniform guess over K classes: ln K."""
    return math.log(num_classes)


def softmax_floor(num_classes: int = NUM_CLASSES) -> float:
    """The lowest loss when probabilities are fed to a loss that expects logits:
    ln(1 + (K-1)/e), what even a perfect prediction (1 and K-1 zeros) then costs."""
    return math.log(1.0 + (num_classes - 1) / math.e)


CHANCE_LOSS = chance_loss()  # ln 10 = 2.3026
CHANCE_ACCURACY = 1 / NUM_CLASSES
SOFTMAX_FLOOR = softmax_floor()  # ln(1 + 9/e) = 1.4612

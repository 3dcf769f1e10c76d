"""The MLP built from a RunConfig: plain tf.Variables named after their layer, and a
forward pass that hands back every hidden layer's activations for instrumentation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from core.schema.config import RunConfig, parse_init
from core.schema.tags import BIAS, INPUT_DIM, KERNEL, NUM_CLASSES, OUTPUT_LAYER, hidden_layer
from core.schema.units import glorot_limit, he_std


@dataclass
class Dense:
    name: str  # dense_1 ... dense_L, then `output`
    kernel: tf.Variable
    bias: tf.Variable


@dataclass
class Forward:
    logits: tf.Tensor
    pre_activations: list[tf.Tensor]  # hidden layers only
    activations: list[tf.Tensor]


def initial_kernel(spec: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """Initial weights drawn in numpy from a seeded generator, so runs are reproducible."""
    init = parse_init(spec)
    shape = (fan_in, fan_out)
    if init.kind == "he":
        return rng.normal(0.0, he_std(fan_in), shape)
    if init.kind == "glorot":
        limit = glorot_limit(fan_in, fan_out)
        return rng.uniform(-limit, limit, shape)
    if init.kind == "zeros":
        return np.zeros(shape)
    if init.kind == "uniform":
        return rng.uniform(init.low, init.high, shape)
    return rng.normal(0.0, init.std, shape)


def build(config: RunConfig) -> list[Dense]:
    rng = np.random.default_rng(config.seed)
    widths = [INPUT_DIM] + [config.hidden_units] * config.hidden_layers + [NUM_CLASSES]
    layers = []
    for index, (fan_in, fan_out) in enumerate(zip(widths, widths[1:]), start=1):
        last = index == len(widths) - 1
        name = OUTPUT_LAYER if last else hidden_layer(index)
        kernel = initial_kernel(config.init, fan_in, fan_out, rng)
        # Only hidden biases take bias_init (e.g. small positive to revive dead ReLUs).
        bias = np.full(fan_out, 0.0 if last else config.bias_init)
        layers.append(
            Dense(
                name,
                tf.Variable(kernel.astype(np.float32), name=f"{name}/kernel"),
                tf.Variable(bias.astype(np.float32), name=f"{name}/bias"),
            )
        )
    return layers


def variables(layers: list[Dense]) -> list[tuple[str, tf.Variable]]:
    """(tag name, variable) pairs in layer order, e.g. ('dense_1/kernel', v)."""
    return [(f"{l.name}/{part}", getattr(l, part)) for l in layers for part in (KERNEL, BIAS)]


_ACTIVATIONS = {
    "relu": tf.nn.relu,
    "sigmoid": tf.sigmoid,
    "tanh": tf.tanh,
    "leaky_relu": lambda z: tf.nn.leaky_relu(z, alpha=0.01),
    "linear": tf.identity,
}


def forward(layers: list[Dense], x: tf.Tensor, activation: str) -> Forward:
    act = _ACTIVATIONS[activation]
    pre_activations, activations = [], []
    h = x
    for layer in layers[:-1]:
        z = tf.matmul(h, layer.kernel) + layer.bias
        h = act(z)
        pre_activations.append(z)
        activations.append(h)
    logits = tf.matmul(h, layers[-1].kernel) + layers[-1].bias
    return Forward(logits, pre_activations, activations)


def loss_fn(logits: tf.Tensor, labels: tf.Tensor, softmax_before_loss: bool) -> tf.Tensor:
    """Mean sparse softmax cross-entropy; with the fail5 bug, on softmax(logits) instead of logits."""
    fed = tf.nn.softmax(logits) if softmax_before_loss else logits
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=fed))

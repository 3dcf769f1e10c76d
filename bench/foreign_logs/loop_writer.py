"""Writers `flat`, `split` and `scoped`: a hand-written GradientTape loop over plain tf.Variables
logging with tf.summary, in three naming styles of the kind course notebooks use.

  flat  : one folder: loss, accuracy, test_loss, test_accuracy, grad_norm_w0, grad_norm_b0, ...;
          some runs: histograms hidden1_activations, ...
  split : train/ and test/ folders: loss, accuracy; w0_grad_norm, b0_grad_norm, ...; histograms
          layer1 (kernel), layer1_offset (bias), ...; some runs: layer1/activations
  scoped: one folder: train_loss, train_acc, test_loss, test_acc; gradnorm/w0, gradnorm/b0, ...;
          histograms `weights` (the first layer's kernel) and `logits`; some runs: h1/activation
Variables w0, b0 are the first layer's; w<L>, b<L> the output layer's.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np

from foreign_logs.inputs import drawn_kernel, noise_std
from foreign_logs.suite import RunSpec


def _kernel(spec: RunSpec, rng, fan_in: int, fan_out: int, output: bool) -> np.ndarray:
    drawn = drawn_kernel(spec, rng, fan_in, fan_out, output)
    if drawn is not None:
        return drawn
    if spec.activation == "relu" and not output:
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, fan_out))  # He
    limit = math.sqrt(6.0 / (fan_in + fan_out))  # Glorot
    return rng.uniform(-limit, limit, (fan_in, fan_out))


def _variables(tf, spec: RunSpec):
    rng = np.random.default_rng(spec.seed)
    sizes = [784, *spec.hidden, 10]
    weights, biases = [], []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        output = i == len(sizes) - 2
        weights.append(tf.Variable(_kernel(spec, rng, fan_in, fan_out, output).astype(np.float32), name=f"w{i}"))
        bias = 0.0 if output else spec.bias_init
        biases.append(tf.Variable(np.full(fan_out, bias, dtype=np.float32), name=f"b{i}"))
    return weights, biases


def _optimizer(spec: RunSpec):
    import keras

    if spec.optimizer == "adam":
        return keras.optimizers.Adam(spec.lr)
    return keras.optimizers.SGD(spec.lr, momentum=0.9 if spec.optimizer == "momentum" else 0.0)


def write(spec: RunSpec, logdir: str, x_train, y_train, x_test, y_test) -> dict:
    import tensorflow as tf

    tf.random.set_seed(spec.seed)
    weights, biases = _variables(tf, spec)
    variables = [v for pair in zip(weights, biases) for v in pair]  # w0, b0, w1, b1, ...
    act = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh}[spec.activation]
    optimizer = _optimizer(spec)

    def forward(x):
        hidden = []
        h = x
        for w, b in zip(weights[:-1], biases[:-1]):
            h = act(tf.matmul(h, w) + b)
            hidden.append(h)
        logits = tf.matmul(h, weights[-1]) + biases[-1]
        if spec.softmax_out:
            logits = tf.nn.softmax(logits)  # the bug: probabilities go to a loss that wants logits
        return logits, hidden

    def loss_and_accuracy(logits, y):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
        return loss, accuracy

    noise = noise_std(spec)

    @tf.function
    def train_step(x, y):
        if noise:  # noise "augmentation" far stronger than the pixels, fresh for every batch
            x = x + tf.random.normal(tf.shape(x), stddev=noise)
        with tf.GradientTape() as tape:
            logits, hidden = forward(x)
            loss, accuracy = loss_and_accuracy(logits, y)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, accuracy, [tf.norm(g) for g in grads], logits, hidden

    @tf.function
    def evaluate(x, y):
        logits, _ = forward(x)
        return loss_and_accuracy(logits, y)

    if spec.writer == "split":
        train_writer = tf.summary.create_file_writer(os.path.join(logdir, "train"))
        test_writer = tf.summary.create_file_writer(os.path.join(logdir, "test"))
    else:
        train_writer = test_writer = tf.summary.create_file_writer(logdir)
    names = _Names(spec.writer)
    rng = np.random.default_rng(spec.seed + 1)
    order = rng.permutation(len(x_train))
    position = 0
    x_test_t, y_test_t = tf.constant(x_test), tf.constant(y_test)
    test_accuracy = math.nan
    loss = math.nan
    for step in range(spec.steps):
        if position + spec.batch > len(order):
            order, position = rng.permutation(len(x_train)), 0
        index = order[position: position + spec.batch]
        position += spec.batch
        logged = step % spec.hist_every == 0 or step == spec.steps - 1
        if logged:
            with train_writer.as_default(step=step):  # the weights this step starts from
                _weight_histograms(tf, spec, names, weights, biases)
        loss, accuracy, norms, logits, hidden = train_step(tf.constant(x_train[index]), tf.constant(y_train[index]))
        with train_writer.as_default(step=step):
            tf.summary.scalar(names.loss, loss)
            tf.summary.scalar(names.accuracy, accuracy)
            for i, norm in enumerate(norms):
                tf.summary.scalar(names.grad_norm(("w", "b")[i % 2] + str(i // 2)), norm)
            if logged:
                if spec.writer == "scoped":
                    tf.summary.histogram("logits", logits)
                if spec.activation_hists:
                    for i, h in enumerate(hidden):
                        tf.summary.histogram(names.activations(i + 1), h)
        if logged:
            test_loss, test_accuracy = evaluate(x_test_t, y_test_t)
            with test_writer.as_default(step=step):
                tf.summary.scalar(names.test_loss, test_loss)
                tf.summary.scalar(names.test_accuracy, test_accuracy)
    train_writer.flush()
    test_writer.flush()
    return {"steps": spec.steps, "final_test_accuracy": float(test_accuracy), "final_train_loss": float(loss)}


def _weight_histograms(tf, spec: RunSpec, names: _Names, weights, biases) -> None:
    if spec.writer == "split":
        for i, (w, b) in enumerate(zip(weights, biases)):
            tf.summary.histogram(f"layer{i + 1}", w)
            tf.summary.histogram(f"layer{i + 1}_offset", b)
    elif spec.writer == "scoped":
        tf.summary.histogram("weights", weights[0])


class _Names:
    """The tag names of one writing style."""

    def __init__(self, writer: str) -> None:
        self.writer = writer
        split = writer == "split"
        self.loss = {"flat": "loss", "split": "loss", "scoped": "train_loss"}[writer]
        self.accuracy = {"flat": "accuracy", "split": "accuracy", "scoped": "train_acc"}[writer]
        self.test_loss = "loss" if split else "test_loss"
        self.test_accuracy = {"flat": "test_accuracy", "split": "accuracy", "scoped": "test_acc"}[writer]

    def grad_norm(self, variable: str) -> str:
        return {"flat": f"grad_norm_{variable}", "split": f"{variable}_grad_norm", "scoped": f"gradnorm/{variable}"}[self.writer]

    def activations(self, layer: int) -> str:
        return {"flat": f"hidden{layer}_activations", "split": f"layer{layer}/activations",
                "scoped": f"h{layer}/activation"}[self.writer]

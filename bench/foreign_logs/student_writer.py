"""Student instrumentation: a course-style training script (plain tf.Variables, SGD written as
`var.assign_sub(lr * grad)`) instrumented by hand as the assignment suggests: a file writer,
loss and accuracy scalars, histograms of weights and activations, tf.norm(g) per variable
named after the variable, a few input images, and one test accuracy at the end.

Each style (student_suite.STYLES) is one student's habits: how they name things, and how
often they write. Nothing here imports tblab's core/ or tui/.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from foreign_logs.inputs import drawn_kernel, noise_std
from foreign_logs.student_suite import CADENCE
from foreign_logs.suite import RunSpec


class Names:
    """The tag names one student's style gives to each thing (layer i counts from 0, the output last)."""

    def __init__(self, style: str, layers: int) -> None:
        self.style = style
        self.layers = layers  # hidden layers + the output layer

    def variable(self, i: int, kind: str) -> str:
        """The tf.Variable's own name (kind 'kernel' or 'bias')."""
        if self.style == "keras_ish":
            return f"{'dense' if i == 0 else f'dense_{i}'}/{kind}"
        return f"{'w' if kind == 'kernel' else 'b'}{i}"

    def weights(self, i: int, kind: str, v_name: str) -> str:
        short = {"kernel": "weight", "bias": "bias"}[kind]
        return {
            "vname": v_name, "keras_ish": v_name,
            "scoped": f"weights/{self.variable(i, kind)}",
            "torch_ish": f"fc{i + 1}.{short}",
            "per_epoch": f"{'W' if kind == 'kernel' else 'b'}{i + 1}",
            "camel": f"{'W' if kind == 'kernel' else 'B'}{i + 1}",
        }[self.style]

    def grad_norm(self, i: int, kind: str, v_name: str) -> str:
        return {
            "vname": f"grad_{v_name}", "keras_ish": f"grad_norm/{v_name}",
            "scoped": f"gradients/{self.variable(i, kind)}",
            "torch_ish": f"grad_norm/fc{i + 1}.{ {'kernel': 'weight', 'bias': 'bias'}[kind]}",
            "per_epoch": f"{'W' if kind == 'kernel' else 'b'}{i + 1}_grad",
            "camel": f"GradNorm_{'W' if kind == 'kernel' else 'B'}{i + 1}",
        }[self.style]

    def activations(self, i: int) -> str:
        return {"vname": f"activation_{i}", "scoped": f"activations/h{i + 1}", "keras_ish": f"{self.variable(i, 'kernel').split('/')[0]}/activation",
                "torch_ish": f"activations/fc{i + 1}", "per_epoch": f"hidden{i + 1}", "camel": f"Act{i + 1}"}[self.style]

    @property
    def scalars(self) -> dict[str, str]:
        """loss, accuracy, (per-evaluation) test loss or None, the end-of-run test accuracy, images."""
        return {
            "vname": {"loss": "loss", "acc": "accuracy", "test_loss": None, "test_acc": "test_accuracy", "images": "input"},
            "scoped": {"loss": "metrics/loss", "acc": "metrics/accuracy", "test_loss": None, "test_acc": "test/acc",
                       "images": "inputs/batch"},
            "keras_ish": {"loss": "loss", "acc": "sparse_categorical_accuracy", "test_loss": "evaluation/loss",
                          "test_acc": "evaluation/accuracy", "images": "input_images"},
            "torch_ish": {"loss": "Loss/train", "acc": "Accuracy/train", "test_loss": "Loss/test", "test_acc": "Accuracy/test",
                          "images": "images/train"},
            "per_epoch": {"loss": "train/xent", "acc": "train/correct", "test_loss": None, "test_acc": "test/correct",
                          "images": "train/images"},
            "camel": {"loss": "Loss", "acc": "Accuracy", "test_loss": "TestLoss", "test_acc": "TestAccuracy", "images": "Images"},
        }[self.style]


def _kernel(spec: RunSpec, rng, fan_in: int, fan_out: int, output: bool) -> np.ndarray:
    drawn = drawn_kernel(spec, rng, fan_in, fan_out, output)
    if drawn is not None:
        return drawn
    if output and spec.init.startswith("uniform"):  # the handout draws every layer from its range
        scale = float(spec.init.split(":")[1])
        return rng.uniform(-scale, scale, (fan_in, fan_out))
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, fan_out))  # He


def _variables(tf, spec: RunSpec, names: Names):
    rng = np.random.default_rng(spec.seed)
    sizes = [784, *spec.hidden, 10]
    pairs = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        output = i == len(sizes) - 2
        w = tf.Variable(_kernel(spec, rng, fan_in, fan_out, output).astype(np.float32), name=names.variable(i, "kernel"))
        b = tf.Variable(np.zeros(fan_out, dtype=np.float32), name=names.variable(i, "bias"))
        pairs.append((w, b))
    return pairs


def write(spec: RunSpec, logdir: str, x_train, y_train, x_test, y_test) -> dict:
    import tensorflow as tf

    tf.random.set_seed(spec.seed)
    names = Names(spec.writer, len(spec.hidden) + 1)
    pairs = _variables(tf, spec, names)
    variables = [v for pair in pairs for v in pair]
    act = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh}[spec.activation]
    noise = noise_std(spec)

    def forward(x):
        hidden, h = [], x
        for w, b in pairs[:-1]:
            h = act(tf.matmul(h, w) + b)
            hidden.append(h)
        logits = tf.matmul(h, pairs[-1][0]) + pairs[-1][1]
        if spec.softmax_out:
            logits = tf.nn.softmax(logits)  # the handout's bug: probabilities go to a loss that wants logits
        return logits, hidden

    def metrics(logits, y):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return loss, tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))

    @tf.function
    def train_step(x, y):
        if noise:
            x = x + tf.random.normal(tf.shape(x), stddev=noise)
        with tf.GradientTape() as tape:
            logits, hidden = forward(x)
            loss, accuracy = metrics(logits, y)
        grads = tape.gradient(loss, variables)
        for v, g in zip(variables, grads):
            v.assign_sub(spec.lr * g)
        return loss, accuracy, [tf.norm(g) for g in grads], hidden, x

    evaluate = tf.function(lambda x, y: metrics(forward(x)[0], y))
    writer = tf.summary.create_file_writer(logdir)
    log = _Logger(tf, spec, names, pairs, len(x_train))
    rng = np.random.default_rng(spec.seed + 1)
    order, position = rng.permutation(len(x_train)), 0
    x_test_t, y_test_t = tf.constant(x_test), tf.constant(y_test)
    loss = math.nan
    with writer.as_default():
        for step in range(spec.steps):
            if position + spec.batch > len(order):
                order, position = rng.permutation(len(x_train)), 0
            index = order[position: position + spec.batch]
            position += spec.batch
            loss, accuracy, norms, hidden, seen = train_step(tf.constant(x_train[index]), tf.constant(y_train[index]))
            log.step(step, float(loss), float(accuracy), [float(n) for n in norms], hidden, seen,
                     lambda: evaluate(x_test_t, y_test_t))
        test_loss, test_accuracy = evaluate(x_test_t, y_test_t)
        log.end(float(test_accuracy))
    writer.flush()
    return {"steps": spec.steps, "final_test_accuracy": float(test_accuracy), "final_train_loss": float(loss)}


class _Logger:
    """Writes what one student's style writes, when it writes it."""

    def __init__(self, tf, spec: RunSpec, names: Names, pairs, train_size: int) -> None:
        self.tf, self.spec, self.names, self.pairs = tf, spec, names, pairs
        self.every, self.hist_every = CADENCE[spec.writer]
        self.per_epoch = self.every == 0
        self.epoch_steps = max(1, train_size // spec.batch)
        self.sums: list[list[float]] = []
        self.last = 0  # the last step scalars were written at: the test accuracy goes there

    def step(self, step, loss, accuracy, norms, hidden, seen, evaluate) -> None:
        if self.per_epoch:
            self.sums.append([loss, accuracy, *norms])
            if (step + 1) % self.epoch_steps:
                return
            loss, accuracy, *norms = np.mean(self.sums, axis=0)
            self.sums = []
            at = (step + 1) // self.epoch_steps - 1  # the epoch index
            self._scalars(at, loss, accuracy, norms)
            self._histograms(at, hidden, seen)
            return
        if step % self.every == 0:
            self._scalars(step, loss, accuracy, norms)
        if step % self.hist_every == 0:
            self._histograms(step, hidden, seen)
            if self.names.scalars["test_loss"]:
                self.tf.summary.scalar(self.names.scalars["test_loss"], evaluate()[0], step=step)

    def _scalars(self, step, loss, accuracy, norms) -> None:
        tf, names = self.tf, self.names
        self.last = step
        tf.summary.scalar(names.scalars["loss"], loss, step=step)
        tf.summary.scalar(names.scalars["acc"], accuracy, step=step)
        for k, ((w, b), (nw, nb)) in enumerate(zip(self.pairs, zip(norms[::2], norms[1::2]))):
            tf.summary.scalar(names.grad_norm(k, "kernel", w.name), nw, step=step)
            tf.summary.scalar(names.grad_norm(k, "bias", b.name), nb, step=step)

    def _histograms(self, step, hidden, seen) -> None:
        tf, names = self.tf, self.names
        for k, (w, b) in enumerate(self.pairs):
            tf.summary.histogram(names.weights(k, "kernel", w.name), w, step=step)
            tf.summary.histogram(names.weights(k, "bias", b.name), b, step=step)
        for k, h in enumerate(hidden):
            tf.summary.histogram(names.activations(k), h, step=step)
        tf.summary.image(names.scalars["images"], tf.reshape(seen[:3], (-1, 28, 28, 1)), step=step, max_outputs=3)

    def end(self, test_accuracy: float) -> None:
        self.tf.summary.scalar(self.names.scalars["test_acc"], test_accuracy, step=self.last)

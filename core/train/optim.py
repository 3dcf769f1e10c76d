"""Optimisers written out as variable updates (like the classic handout's
`var.assign_sub(lr * grad)`), so every update is visible and needs no Keras."""

from __future__ import annotations

import tensorflow as tf

MOMENTUM = 0.9
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-7


class Optimizer:
    """SGD, momentum SGD or Adam over a fixed list of variables."""

    def __init__(self, kind: str, learning_rate: float, variables: list[tf.Variable]):
        self.kind = kind
        self.learning_rate = learning_rate
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        zeros = lambda v: tf.Variable(tf.zeros_like(v), trainable=False)  # noqa: E731
        self.m = [zeros(v) for v in variables] if kind in ("momentum", "adam") else []
        self.v = [zeros(v) for v in variables] if kind == "adam" else []

    def apply(self, grads: list[tf.Tensor], variables: list[tf.Variable]) -> None:
        lr = self.learning_rate
        self.iterations.assign_add(1)
        if self.kind == "sgd":
            for var, grad in zip(variables, grads):
                var.assign_sub(lr * grad)
        elif self.kind == "momentum":
            for var, grad, m in zip(variables, grads, self.m):
                m.assign(MOMENTUM * m + grad)
                var.assign_sub(lr * m)
        else:
            t = tf.cast(self.iterations, tf.float32)
            correction = tf.sqrt(1 - ADAM_BETA2**t) / (1 - ADAM_BETA1**t)
            for var, grad, m, v in zip(variables, grads, self.m, self.v):
                m.assign(ADAM_BETA1 * m + (1 - ADAM_BETA1) * grad)
                v.assign(ADAM_BETA2 * v + (1 - ADAM_BETA2) * tf.square(grad))
                var.assign_sub(lr * correction * m / (tf.sqrt(v) + ADAM_EPSILON))

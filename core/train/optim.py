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
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")  # Adam's steps
        zeros = lambda v: tf.Variable(tf.zeros_like(v), trainable=False)  # noqa: E731
        self.m = [zeros(v) for v in variables] if kind in ("momentum", "adam") else []
        self.v = [zeros(v) for v in variables] if kind == "adam" else []

    def apply(self, grads: list[tf.Tensor], variables: list[tf.Variable]) -> list[tf.Tensor]:
        """Subtract one update from each variable and return the updates: their norms are
        the update ratios' numerators, with no copy of the old weights to subtract."""
        lr = self.learning_rate
        if self.kind == "sgd":
            updates = [lr * grad for grad in grads]
        elif self.kind == "momentum":
            updates = []
            for grad, m in zip(grads, self.m):
                m.assign(MOMENTUM * m + grad)
                updates.append(lr * m)
        else:
            self.iterations.assign_add(1)
            t = tf.cast(self.iterations, tf.float32)
            correction = tf.sqrt(1 - ADAM_BETA2**t) / (1 - ADAM_BETA1**t)
            updates = []
            for grad, m, v in zip(grads, self.m, self.v):
                m.assign(ADAM_BETA1 * m + (1 - ADAM_BETA1) * grad)
                v.assign(ADAM_BETA2 * v + (1 - ADAM_BETA2) * tf.square(grad))
                updates.append(lr * correction * m / (tf.sqrt(v) + ADAM_EPSILON))
        for var, update in zip(variables, updates):
            var.assign_sub(update)
        return updates

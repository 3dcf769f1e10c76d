"""Writer `tutorial`: TensorFlow's own `mnist_with_summaries.py` example (the TF1 tutorial most
TensorBoard courses start from), ported only as far as TF 2's `tf.compat.v1` requires.

It builds a graph, logs with `tf.compat.v1.summary` (legacy `simple_value` / `histo` protos, not
TF2 tensors) through a `FileWriter`, and keeps the tutorial's names and habits:
  - per layer `layerN/weights/summaries/{mean, stddev_1, max, min, histogram}` (and `biases/...`),
    `layerN/Wx_plus_b/pre_activations` and `layerN/activations` histograms; the output layer is
    the last `layerN` with an identity activation;
  - `cross_entropy_1` and `accuracy_1` (the graph's name scopes take the plain names), a
    `dropout/dropout_keep_probability` scalar and dropout after the first hidden layer;
  - every 10th step the merged summary is evaluated on the test set and goes to `test/`, every
    other step on the training batch to `train/`: histograms every step, no gradient norms;
  - like the TF1 script, it dies at the first NaN a histogram summary sees ("Nan in summary
    histogram"): the log is what it wrote until then.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np

from foreign_logs.inputs import drawn_kernel, noise_std
from foreign_logs.suite import RunSpec

TEST_EVERY = 10
KEEP_PROB = 0.9  # the tutorial's dropout


def _initial_kernel(spec: RunSpec, rng, fan_in: int, fan_out: int, output: bool) -> np.ndarray:
    drawn = drawn_kernel(spec, rng, fan_in, fan_out, output)
    if drawn is not None:
        return drawn
    return rng.normal(0.0, 0.1, (fan_in, fan_out)).clip(-0.2, 0.2)  # the tutorial's truncated_normal(0.1)


def write(spec: RunSpec, logdir: str, x_train, y_train, x_test, y_test) -> dict:
    import tensorflow as tf

    v1 = tf.compat.v1
    rng = np.random.default_rng(spec.seed)
    with tf.Graph().as_default() as graph:
        v1.set_random_seed(spec.seed)

        def variable_summaries(var):
            with tf.name_scope("summaries"):
                mean = tf.reduce_mean(var)
                v1.summary.scalar("mean", mean)
                with tf.name_scope("stddev"):
                    stddev = tf.sqrt(tf.reduce_mean(tf.square(var - mean)))
                v1.summary.scalar("stddev", stddev)
                v1.summary.scalar("max", tf.reduce_max(var))
                v1.summary.scalar("min", tf.reduce_min(var))
                v1.summary.histogram("histogram", var)

        def nn_layer(input_tensor, fan_in, fan_out, layer_name, act, output=False):
            with tf.name_scope(layer_name):
                with tf.name_scope("weights"):
                    weights = tf.Variable(_initial_kernel(spec, rng, fan_in, fan_out, output).astype(np.float32))
                    variable_summaries(weights)
                with tf.name_scope("biases"):
                    # The tutorial's bias_variable: constant 0.1 (a hidden layer takes the spec's bias if it sets one).
                    bias = spec.bias_init if spec.bias_init and not output else 0.1
                    biases = tf.Variable(np.full(fan_out, bias, dtype=np.float32))
                    variable_summaries(biases)
                with tf.name_scope("Wx_plus_b"):
                    preactivate = tf.matmul(input_tensor, weights) + biases
                    v1.summary.histogram("pre_activations", preactivate)
                activations = act(preactivate, name="activation")
                v1.summary.histogram("activations", activations)
                return activations

        with tf.name_scope("input"):
            x = v1.placeholder(tf.float32, [None, 784], name="x-input")
            y_ = v1.placeholder(tf.int64, [None], name="y-input")
        noise = v1.placeholder_with_default(0.0, [], name="noise_std")
        h = x + noise * tf.random.normal(tf.shape(x))  # the spec's noise "augmentation" (training only)
        act = {"relu": tf.nn.relu, "sigmoid": tf.nn.sigmoid, "tanh": tf.nn.tanh}[spec.activation]
        sizes = [784, *spec.hidden]
        keep_prob = v1.placeholder(tf.float32)
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            h = nn_layer(h, fan_in, fan_out, f"layer{i + 1}", act)
            if i == 0:
                with tf.name_scope("dropout"):
                    v1.summary.scalar("dropout_keep_probability", keep_prob)
                    h = tf.nn.dropout(h, rate=1 - keep_prob)
        y = nn_layer(h, sizes[-1], 10, f"layer{len(sizes)}", tf.identity, output=True)
        if spec.softmax_out:
            y = tf.nn.softmax(y)  # the bug: probabilities go to a loss that wants logits
        with tf.name_scope("cross_entropy"), tf.name_scope("total"):
            cross_entropy = v1.losses.sparse_softmax_cross_entropy(labels=y_, logits=y)
        v1.summary.scalar("cross_entropy", cross_entropy)
        with tf.name_scope("train"):
            if spec.optimizer == "adam":
                optimizer = v1.train.AdamOptimizer(spec.lr)
            elif spec.optimizer == "momentum":
                optimizer = v1.train.MomentumOptimizer(spec.lr, 0.9)
            else:
                optimizer = v1.train.GradientDescentOptimizer(spec.lr)
            train_step = optimizer.minimize(cross_entropy)
        with tf.name_scope("accuracy"):
            with tf.name_scope("correct_prediction"):
                correct_prediction = tf.equal(tf.argmax(y, 1), y_)
            with tf.name_scope("accuracy"):
                accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        v1.summary.scalar("accuracy", accuracy)
        merged = v1.summary.merge_all()

        config = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with v1.Session(graph=graph, config=config) as sess:
            train_writer = v1.summary.FileWriter(os.path.join(logdir, "train"), sess.graph)
            test_writer = v1.summary.FileWriter(os.path.join(logdir, "test"))
            sess.run(v1.global_variables_initializer())
            order, position = rng.permutation(len(x_train)), 0
            test_accuracy = loss = math.nan
            ended = "finished"
            for i in range(spec.steps):
                try:
                    if i % TEST_EVERY == 0:  # record summaries and test-set accuracy
                        summary, test_accuracy = sess.run([merged, accuracy], {x: x_test, y_: y_test, keep_prob: 1.0})
                        test_writer.add_summary(summary, i)
                        continue
                    if position + spec.batch > len(order):
                        order, position = rng.permutation(len(x_train)), 0
                    index = order[position: position + spec.batch]
                    position += spec.batch
                    feed = {x: x_train[index], y_: y_train[index], keep_prob: KEEP_PROB, noise: noise_std(spec)}
                    summary, loss, _ = sess.run([merged, cross_entropy, train_step], feed)
                    train_writer.add_summary(summary, i)
                except tf.errors.InvalidArgumentError as error:  # the TF1 script dies here
                    ended = f"crashed at step {i}: {error.message.splitlines()[0]}"
                    break
            train_writer.close()
            test_writer.close()
    return {"steps": spec.steps, "final_test_accuracy": float(test_accuracy), "final_train_loss": float(loss),
            "ended": ended}

"""A hostile-script corpus for `tblab watch`: scripts that fork, leave a server or a sleeper
behind, never train, read stdin, take arguments, train two models or under a tf.distribute
strategy; and the odd names they may carry.

Used by tests/test_reliability_hostile.py and bench/reliability_table.py. Every script
trains a one-layer net on random data for a few eager GradientTape steps, so each runs in
seconds; `SCRIPTS[name]` is its source.
"""

from __future__ import annotations

from pathlib import Path

# A few real training steps: what every hostile script does besides its trick.
TRAIN = """
import tensorflow as tf
W = tf.Variable(tf.random.uniform([784, 10], -0.1, 0.1))
b = tf.Variable(tf.zeros([10]))
for step in range(STEPS):
    x = tf.random.uniform([16, 784])
    y = tf.random.uniform([16], 0, 10, dtype=tf.int32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.matmul(x, W) + b))
    grads = tape.gradient(loss, [W, b])
    for var, grad in zip([W, b], grads):
        var.assign_sub(0.1 * grad)
print("trained", STEPS, flush=True)
"""


def _script(before: str, after: str = "", steps: int = 5) -> str:
    return f"STEPS = {steps}\n{before}\n{TRAIN}\n{after}\n"


SCRIPTS = {
    # a forked copy that sleeps a minute holding the script's pipes
    "fork": _script("", "import os, time\nif os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\n"),
    # a grandchild that outlives the script: a process sleeping a minute
    "sleeper": _script("", "import subprocess\nsubprocess.Popen(['sleep', '60'])\n"),
    # a server left running (it would run for ever)
    "server": _script("", "import subprocess, sys\n"
                          "subprocess.Popen([sys.executable, '-m', 'http.server', '0', '--bind', '127.0.0.1'])\n"),
    # starts a server and a sleeper, then trains until stopped: for signals to tblab
    "serves_and_trains": _script("import subprocess, sys\n"
                                 "subprocess.Popen([sys.executable, '-m', 'http.server', '0', '--bind', '127.0.0.1'])\n"
                                 "subprocess.Popen(['sleep', '600'])\nprint('serving', flush=True)\n",
                                 steps=10**9),
    # two models of different widths, trained in turn: the first is recorded, the other counted
    "two_models": "\n".join([
        "import tensorflow as tf",
        "def model(hidden):",
        "    return [tf.Variable(tf.random.normal([784, hidden], stddev=0.05)), tf.Variable(tf.zeros([hidden])),",
        "            tf.Variable(tf.random.normal([hidden, 10], stddev=0.05)), tf.Variable(tf.zeros([10]))]",
        "A, B = model(80), model(30)",
        "for step in range(10):",
        "    for params in (A, B):",
        "        x, y = tf.random.uniform([16, 784]), tf.random.uniform([16], 0, 10, dtype=tf.int32)",
        "        with tf.GradientTape() as tape:",
        "            h = tf.nn.relu(tf.matmul(x, params[0]) + params[1])",
        "            logits = tf.matmul(h, params[2]) + params[3]",
        "            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))",
        "        for v, g in zip(params, tape.gradient(loss, params)):",
        "            v.assign_sub(0.1 * g)",
        "print('trained', flush=True)", ""]),
    # a course's tf.distribute loop: MirroredStrategy (one CPU device), each step in strategy.run
    # (on a replica thread of its own), a distributed dataset, Keras' optimizer all-reducing
    "strategy": "\n".join([
        "import tensorflow as tf",
        "strategy = tf.distribute.MirroredStrategy()",
        "with strategy.scope():",
        "    w0 = tf.Variable(tf.random.normal([784, 32], stddev=0.05), name='w0')",
        "    b0 = tf.Variable(tf.zeros([32]), name='b0')",
        "    wout = tf.Variable(tf.random.normal([32, 10], stddev=0.05), name='wout')",
        "    bout = tf.Variable(tf.zeros([10]), name='bout')",
        "    optimizer = tf.keras.optimizers.SGD(0.1)",
        "params = [w0, b0, wout, bout]",
        "x_all, y_all = tf.random.uniform([192, 784]), tf.random.uniform([192], 0, 10, dtype=tf.int32)",
        "data = tf.data.Dataset.from_tensor_slices((x_all, y_all))",
        "def train_step(x, y):",
        "    with tf.GradientTape() as tape:",
        "        logits = tf.matmul(tf.nn.relu(tf.matmul(x, w0) + b0), wout) + bout",
        "        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))",
        "    optimizer.apply_gradients(zip(tape.gradient(loss, params), params))",
        "    return loss",
        "@tf.function",
        "def distributed_step(x, y):  # TensorFlow's tutorial: strategy.run inside a tf.function",
        "    return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(train_step, args=(x, y)), axis=None)",
        "for x, y in strategy.experimental_distribute_dataset(data.batch(32)):",
        "    loss = distributed_step(x, y)",
        "print('trained', flush=True)", ""]),
    # waits on a loop without ever computing a gradient
    "never_trains": "import time\nprint('waiting', flush=True)\nwhile True:\n    time.sleep(0.2)\n",
    # reads what was piped to it
    "stdin": _script("import sys\nprint('read:', sys.stdin.read().strip(), flush=True)\n"),
    # prints its own arguments
    "arguments": _script("import sys\nprint('argv:', sys.argv[1:], flush=True)\n"),
}

# Stems a learner's file may have: '..' (a file named '...py'), unicode, a space, over-long.
ODD_STEMS = ["..", "…", "données été", "模型", "a b", "x" * 250, "é" * 120]


def write_script(folder: Path, name: str, stem: str | None = None) -> Path:
    """SCRIPTS[name] written to folder/<stem or name>.py."""
    path = folder / f"{stem if stem is not None else name}.py"
    path.write_text(SCRIPTS[name])
    return path

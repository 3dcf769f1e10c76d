"""fail4 (noise of std 4 on every training batch), instrumented by hand the way the assignment
suggests, in one student's style: scoped names (metrics/loss, gradients/w0, weights/w0,
activations/h1, inputs/batch) and a single test accuracy at the end (test/acc).

    python examples/students/fail4_scoped.py          # needs MNIST (tf.keras.datasets)
    tblab watch examples/students/fail4_scoped.py     # or under tblab, which serves MNIST offline
    tblab diagnose logs/students/fail4_scoped         # the doctor on this script's own log
"""

import tensorflow as tf

STEPS = 2000
BATCH = 128
LEARNING_RATE = 0.1
NOISE_STD = 4.0
LOGDIR = "logs/students/fail4_scoped"

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
y_train, y_test = y_train.astype("int32"), y_test.astype("int32")
train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=0).batch(BATCH).repeat()

tf.random.set_seed(0)
w0 = tf.Variable(tf.random.uniform([784, 100], -0.1, 0.1), name="w0")
b0 = tf.Variable(tf.zeros([100]), name="b0")
w1 = tf.Variable(tf.random.uniform([100, 100], -0.1, 0.1), name="w1")
b1 = tf.Variable(tf.zeros([100]), name="b1")
w2 = tf.Variable(tf.random.uniform([100, 10], -0.1, 0.1), name="w2")
b2 = tf.Variable(tf.zeros([10]), name="b2")
variables = [w0, b0, w1, b1, w2, b2]


def model(x):
    h1 = tf.nn.relu(tf.matmul(x, w0) + b0)
    h2 = tf.nn.relu(tf.matmul(h1, w1) + b1)
    return tf.matmul(h2, w2) + b2, [h1, h2]


writer = tf.summary.create_file_writer(LOGDIR)
with writer.as_default():
    for step, (x, y) in enumerate(train_ds.take(STEPS + 1)):
        x = x + tf.random.normal(tf.shape(x), stddev=NOISE_STD)  # "noise improves generalisation"
        with tf.GradientTape() as tape:
            logits, hidden = model(x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, variables)
        for v, g in zip(variables, grads):
            v.assign_sub(LEARNING_RATE * g)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.float32))
        tf.summary.scalar("metrics/loss", loss, step=step)
        tf.summary.scalar("metrics/accuracy", accuracy, step=step)
        for v, g in zip(variables, grads):
            tf.summary.scalar(f"gradients/{v.name[:-2]}", tf.norm(g), step=step)
        if step % 50 == 0:
            for v in variables:
                tf.summary.histogram(f"weights/{v.name[:-2]}", v, step=step)
            for i, h in enumerate(hidden):
                tf.summary.histogram(f"activations/h{i + 1}", h, step=step)
            tf.summary.image("inputs/batch", tf.reshape(x[:3], (-1, 28, 28, 1)), step=step, max_outputs=3)
        if step % 100 == 0:
            print(f"step {step}: loss {loss.numpy():.3f}, batch accuracy {accuracy.numpy():.2f}")
    test_logits, _ = model(x_test)
    test_accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(test_logits, 1, output_type=tf.int32), y_test), tf.float32))
    tf.summary.scalar("test/acc", test_accuracy, step=step)  # beside the last training step
    print(f"test accuracy {test_accuracy.numpy():.4f}")
writer.flush()

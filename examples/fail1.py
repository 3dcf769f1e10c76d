"""fail1, super deep model: 8 ReLU layers whose weights are too large for their width.

uniform(-0.4, 0.4) is ~1.6x the He scale for 100-unit layers: every layer multiplies the
signal, the first loss is in the hundreds, then NaN.
Try:  tblab watch examples/fail1.py            then   --fix init
"""

import tensorflow as tf

STEPS = 2000
BATCH = 128
LEARNING_RATE = 0.1

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
y_train = y_train.astype("int32")
y_test = y_test.astype("int32")

train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=0).batch(BATCH).repeat()

tf.random.set_seed(0)
sizes = [784] + [100] * 8 + [10]
weights = []
for fan_in, fan_out in zip(sizes, sizes[1:]):
    weights.append(tf.Variable(tf.random.uniform([fan_in, fan_out], -0.4, 0.4)))
    weights.append(tf.Variable(tf.zeros([fan_out])))


def model(x):
    h = x
    for kernel, bias in zip(weights[0:-2:2], weights[1:-2:2]):
        h = tf.nn.relu(tf.matmul(h, kernel) + bias)
    return tf.matmul(h, weights[-2]) + weights[-1]


def test_accuracy():
    predicted = tf.argmax(model(x_test), axis=1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predicted, y_test), tf.float32)).numpy()


for step, (x, y) in enumerate(train_ds.take(STEPS)):
    with tf.GradientTape() as tape:
        logits = model(x)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    grads = tape.gradient(loss, weights)
    for var, grad in zip(weights, grads):
        var.assign_sub(LEARNING_RATE * grad)
    if step % 100 == 0:
        print(f"step {step}: loss {loss.numpy():.4f}, test accuracy {test_accuracy():.4f}")

print(f"test accuracy: {test_accuracy():.4f}")

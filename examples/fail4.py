"""fail4, noisy inputs: Gaussian noise of std 4 added to every training batch.

The pixels are in [0, 1]; noise 4x larger than the whole pixel range drowns the digits.
Try:  tblab watch examples/fail4.py            then   --fix no_noise
"""

import tensorflow as tf

STEPS = 2000
BATCH = 128
LEARNING_RATE = 0.1
NOISE_STD = 4.0

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
y_train = y_train.astype("int32")
y_test = y_test.astype("int32")

train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=0).batch(BATCH).repeat()

tf.random.set_seed(0)
W1 = tf.Variable(tf.random.uniform([784, 100], -0.1, 0.1))
b1 = tf.Variable(tf.zeros([100]))
W2 = tf.Variable(tf.random.uniform([100, 100], -0.1, 0.1))
b2 = tf.Variable(tf.zeros([100]))
W3 = tf.Variable(tf.random.uniform([100, 10], -0.1, 0.1))
b3 = tf.Variable(tf.zeros([10]))
weights = [W1, b1, W2, b2, W3, b3]


def model(x):
    h1 = tf.nn.relu(tf.matmul(x, W1) + b1)
    h2 = tf.nn.relu(tf.matmul(h1, W2) + b2)
    return tf.matmul(h2, W3) + b3


def test_accuracy():
    predicted = tf.argmax(model(x_test), axis=1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predicted, y_test), tf.float32)).numpy()


for step, (x, y) in enumerate(train_ds.take(STEPS)):
    x_noisy = x + NOISE_STD * tf.random.normal(tf.shape(x))  # "augmentation"
    with tf.GradientTape() as tape:
        logits = model(x_noisy)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    grads = tape.gradient(loss, weights)
    for var, grad in zip(weights, grads):
        var.assign_sub(LEARNING_RATE * grad)
    if step % 100 == 0:
        print(f"step {step}: loss {loss.numpy():.4f}, test accuracy {test_accuracy():.4f}")

print(f"test accuracy: {test_accuracy():.4f}")

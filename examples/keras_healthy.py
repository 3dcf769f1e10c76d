"""A healthy Keras MLP for MNIST with compile / fit: the baseline's net (784-100-100-10 ReLU,
uniform(-0.1, 0.1) weights, SGD 0.1, batches of 128), test set as validation data.
Try:  tblab watch examples/keras_healthy.py
"""

import tensorflow as tf

EPOCHS = 60

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0

tf.keras.utils.set_random_seed(0)
init = tf.keras.initializers.RandomUniform(-0.1, 0.1)
model = tf.keras.Sequential([
    tf.keras.Input(shape=(784,)),
    tf.keras.layers.Dense(100, activation="relu", kernel_initializer=init),
    tf.keras.layers.Dense(100, activation="relu", kernel_initializer=init),
    tf.keras.layers.Dense(10, kernel_initializer=init),
])
model.compile(
    optimizer=tf.keras.optimizers.SGD(learning_rate=0.1),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(x_train, y_train, batch_size=128, epochs=EPOCHS, validation_data=(x_test, y_test), verbose=2)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {accuracy:.4f}")

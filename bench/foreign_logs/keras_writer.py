"""Writer `keras`: a Keras model trained with `fit` and the TensorBoard callback, as in Keras' own
tutorials; the log is whatever the callback writes."""

from __future__ import annotations

import math

import numpy as np

from foreign_logs.inputs import init_range, noise_std
from foreign_logs.suite import RunSpec


def _initializer(keras, spec: RunSpec):
    kind, scale = init_range(spec)
    seed = spec.seed
    if kind == "default":
        return "glorot_uniform"  # Keras' own default
    if kind == "uniform":
        return keras.initializers.RandomUniform(-scale, scale, seed=seed)
    if kind == "normal":
        return keras.initializers.RandomNormal(stddev=scale, seed=seed)
    if kind == "negative":
        return keras.initializers.RandomUniform(-scale, 0.0, seed=seed)
    if kind == "zeros":
        return "zeros"
    raise ValueError(spec.init)


def _optimizer(keras, spec: RunSpec):
    if spec.optimizer == "adam":
        return keras.optimizers.Adam(spec.lr)
    return keras.optimizers.SGD(spec.lr, momentum=0.9 if spec.optimizer == "momentum" else 0.0)


def build(keras, spec: RunSpec):
    kernel = _initializer(keras, spec)
    bias = keras.initializers.Constant(spec.bias_init) if spec.bias_init else "zeros"
    out_kernel = "zeros" if spec.init == "zeros" else "glorot_uniform"
    out_activation = "softmax" if spec.softmax_out else None
    if spec.functional:
        inputs = keras.Input((784,), name="pixels")
        x = inputs
        for width in spec.hidden:
            x = keras.layers.Dense(width, activation=spec.activation, kernel_initializer=kernel,
                                   bias_initializer=bias)(x)
        outputs = keras.layers.Dense(10, activation=out_activation, kernel_initializer=out_kernel)(x)
        return keras.Model(inputs, outputs, name="functional_mlp")
    layers = [keras.Input((784,))]
    layers += [keras.layers.Dense(w, activation=spec.activation, kernel_initializer=kernel, bias_initializer=bias)
               for w in spec.hidden]
    layers.append(keras.layers.Dense(10, activation=out_activation, kernel_initializer=out_kernel))
    return keras.Sequential(layers)


def logits_loss(y_true, y_pred):
    """A hand-rolled logits loss: the way the double-softmax bug survives in Keras 3 (whose own
    from_logits=True loss quietly unwraps a Softmax layer's output back to its logits)."""
    import tensorflow as tf

    labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)


def write(spec: RunSpec, logdir: str, x_train, y_train, x_test, y_test) -> dict:
    import keras

    keras.utils.set_random_seed(spec.seed)
    model = build(keras, spec)
    model.compile(
        optimizer=_optimizer(keras, spec),
        loss=logits_loss if spec.softmax_out else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    per_epoch = math.ceil(len(x_train) / spec.batch)
    epochs = max(3, round(spec.steps / per_epoch))
    callback = keras.callbacks.TensorBoard(logdir, histogram_freq=spec.histogram_freq, update_freq=spec.update_freq)
    if noise_std(spec):
        # Noise "augmentation" far stronger than the pixels, fresh for every batch, in the input
        # pipeline (keras' GaussianNoise layer refuses a stddev above 1).
        import tensorflow as tf

        train = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=spec.seed)
                 .batch(spec.batch).map(lambda x, y: (x + tf.random.normal(tf.shape(x), stddev=noise_std(spec)), y)))
        history = model.fit(train, epochs=epochs, verbose=0, validation_data=(x_test, y_test), callbacks=[callback])
    else:
        history = model.fit(x_train, y_train, batch_size=spec.batch, epochs=epochs, verbose=0, shuffle=True,
                            validation_data=(x_test, y_test), callbacks=[callback])
    return {
        "epochs": epochs,
        "steps": epochs * per_epoch,
        "final_test_accuracy": float(history.history["val_accuracy"][-1]),
        "final_train_loss": float(np.asarray(history.history["loss"][-1])),
    }

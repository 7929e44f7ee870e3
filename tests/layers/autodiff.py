"""Gradients of a scalar loss of a layer's output, on the active backend."""

import keras
import numpy as np


def last_step_sum(y):
    """Σ y over the last time step: a loss that reaches back in time."""
    return keras.ops.sum(y[:, -1])


def gradients(layer, x, loss=last_step_sum):
    """d loss(layer(x)) / dθ for θ in `layer.trainable_weights`, as NumPy."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss(layer(x))
        grads = tape.gradient(value, layer.trainable_weights)
        return [np.asarray(g) for g in grads]
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def f(trainable):
            y, _ = layer.stateless_call(trainable, non_trainable, x)
            return loss(y)

        return [np.asarray(g) for g in jax.grad(f)(trainable)]
    raise NotImplementedError(f"No gradient helper for backend {backend!r}")

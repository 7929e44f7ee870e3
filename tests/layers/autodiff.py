"""Gradients of a layer's summed output, on whichever backend is active."""

import keras
import numpy as np


def gradients(layer, x, reduce_last_step=True):
    """d/dθ Σ y for θ in `layer.trainable_weights`, as NumPy arrays.

    With `reduce_last_step` the sum is over the last output only (the layer
    must return sequences); otherwise over the whole output.
    """

    def loss(y):
        y = y[:, -1] if reduce_last_step else y
        return keras.ops.sum(y)

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

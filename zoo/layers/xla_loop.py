"""The time loop compiled by XLA, on TensorFlow: the zoo's recurrence engine.

Keras runs a recurrent layer's steps in a `tf.while_loop` whose every small op
(two matmuls, a split, a few sigmoids and products per step) is dispatched by
TensorFlow's executor; at small states that overhead, not arithmetic, is most
of the time. Keras turns XLA off on CPU-only machines, so its layers pay it.
`compiled_loop` runs the same loop as one XLA program, which fuses each step's
gate math and drops the per-op dispatch (figures in `docs/benchmarks.md`).

The backward pass is a second XLA program that recomputes the forward loop
and differentiates it (`tf.custom_gradient`): a compiled function cannot hand
the loop's saved activations (TensorLists) to uncompiled code, and the
recomputation means that training keeps only the layer's inputs and weights
between the passes, not every step's activations.

Only graphs are compiled (`tf.function`: `predict`, `evaluate`, SavedModel
tracing); eager calls run Keras's loop as they are, since each would compile
anew. Training (`training=True`, as in `fit`) runs Keras's loop unless
traced within `compiled_training()`: the recomputation and XLA's CPU
matmuls, slower than TensorFlow's at large states, make the compiled
training step slower at most shapes, but much faster on long sequences
through small states. `keras_loop()` turns the engine off within its block;
`training.export` uses it so that SavedModels hold plain TensorFlow ops that
any TensorFlow Serving build runs. Both switches act when a layer is traced
(a Keras model's first `fit`, `predict` or `evaluate`), not when it runs.
"""

import contextlib
import threading

import keras

_switch = threading.local()


@contextlib.contextmanager
def _switched(name):
    previous = getattr(_switch, name, False)
    setattr(_switch, name, True)
    try:
        yield
    finally:
        setattr(_switch, name, previous)


def keras_loop():
    """Within this block, zoo layers traced run Keras's uncompiled loop."""
    return _switched("off")


def compiled_training():
    """Within this block, zoo layers traced for training compile their loop.

    Example:

    >>> from zoo.layers import LSTM
    >>> model = keras.Sequential([keras.Input((200, 3)), LSTM(8)])
    >>> model.compile("adam", "mse")
    >>> with compiled_training():  # where `fit` traces its training step
    ...     history = model.fit(np.ones((4, 200, 3)), np.ones((4, 8)),
    ...                         epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """
    return _switched("training")


def compiles(unroll, training, steps=None):
    """Whether a layer's loop traced now runs under XLA.

    At inference, always (in graphs, on TensorFlow, not unrolled); in
    training only within `compiled_training()`. Never for sequences of one
    step (`steps`, the static length), as a decoder feeds them one at a
    time: with no loop to fuse, launching an XLA program only adds time.
    """
    if keras.backend.backend() != "tensorflow" or unroll or steps == 1:
        return False
    if getattr(_switch, "off", False):
        return False
    if training and not getattr(_switch, "training", False):
        return False
    import tensorflow as tf

    return not tf.executing_eagerly()


def compiled_loop(loop, sequences, initial_state, weights):
    """Runs `loop(sequences, initial_state)` as one XLA program.

    Args:
        loop: The layer's time loop, `(sequences, states) -> (last_output,
            outputs, new_states)`, reading the layer's `weights`; anything
            else it reads (mask, dropout masks) is a constant of the loop.
        sequences: `(batch, time, features)`.
        initial_state: List of `(batch, size)` states.
        weights: The Keras variables `loop` reads.

    Returns:
        What `loop` returns, with gradients to `sequences`, `initial_state`
        and `weights`.
    """
    import tensorflow as tf

    n_states = len(initial_state)

    def forward(sequences, states, values):
        # The loop reads `values` wherever it reads the weights, so the
        # gradient below can be taken with respect to tensors.
        with keras.StatelessScope(state_mapping=list(zip(weights, values))):
            last, outputs, new_states = loop(sequences, list(states))
        return last, outputs, list(new_states)

    forward_xla = tf.function(forward, jit_compile=True, autograph=False)

    def backward(sequences, states, values, d_last, d_outputs, d_states):
        with tf.GradientTape() as tape:
            tape.watch([sequences, states, values])
            last, outputs, new_states = forward(sequences, states, values)
        grads = tape.gradient(
            [last, outputs, new_states],
            [sequences, states, values],
            output_gradients=[d_last, d_outputs, d_states],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        return grads[0], grads[1], grads[2]

    backward_xla = tf.function(backward, jit_compile=True, autograph=False)

    @tf.custom_gradient
    def run(sequences, *states_and_values):
        states = list(states_and_values[:n_states])
        values = list(states_and_values[n_states:])
        last, outputs, new_states = forward_xla(sequences, states, values)

        def grad(d_last, d_outputs, *d_states):
            d_sequences, d_init, d_values = backward_xla(
                sequences, states, values, d_last, d_outputs, list(d_states)
            )
            return (d_sequences, *d_init, *d_values)

        return (last, outputs, *new_states), grad

    values = [tf.convert_to_tensor(w.value) for w in weights]
    last, outputs, *new_states = run(sequences, *initial_state, *values)
    return last, outputs, new_states

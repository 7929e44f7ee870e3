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

Only graphs are compiled (`tf.function`: `fit`, `predict`, `evaluate`,
SavedModel tracing); eager calls run Keras's loop as they are, since each
would compile anew. `keras_loop()` turns the engine off within its block;
`training.export` uses it so that SavedModels hold plain TensorFlow ops that
any TensorFlow Serving build runs.
"""

import contextlib
import threading

import keras

_switch = threading.local()


@contextlib.contextmanager
def keras_loop():
    """Within this block, zoo layers traced run Keras's uncompiled loop."""
    previous = getattr(_switch, "off", False)
    _switch.off = True
    try:
        yield
    finally:
        _switch.off = previous


def compiles(unroll, training):
    """Whether a layer's loop traced now runs under XLA.

    Inference only: in training (dropout on, the loop differentiated) the
    compiled loop measured slower at most shapes, since its backward pass
    recomputes the forward one and XLA's CPU matmuls are slower than
    TensorFlow's at large states (`docs/benchmarks.md`).
    """
    if keras.backend.backend() != "tensorflow" or unroll or training:
        return False
    if getattr(_switch, "off", False):
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

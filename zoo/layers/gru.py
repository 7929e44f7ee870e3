"""Gated Recurrent Unit: Cho et al. 2014, in both conventions.

Cho, van Merriënboer, Gulcehre, Bahdanau, Bougares, Schwenk & Bengio,
"Learning Phrase Representations using RNN Encoder-Decoder for Statistical
Machine Translation" (EMNLP 2014, arXiv:1406.1078). With update gate z,
reset gate r and candidate state h̃:

    z^t = σ(W_z x^t + U_z h^{t-1} + b_z)                        update gate
    r^t = σ(W_r x^t + U_r h^{t-1} + b_r)                        reset gate
    h̃^t = tanh(W_h x^t + U_h (r^t ⊙ h^{t-1}) + b_h)             reset before
    h̃^t = tanh(W_h x^t + b_h + r^t ⊙ (U_h h^{t-1} + b'_h))      reset after
    h^t = z^t ⊙ h^{t-1} + (1 - z^t) ⊙ h̃^t

"Reset before" is the paper's (v3) form. "Reset after" applies r^t after the
recurrent matmul and has a second, recurrent bias b'; it is cuDNN's and
PyTorch's form and Keras's default. The two are not equivalent:
r ⊙ (U h) ≠ U (r ⊙ h). Note that z^t weights the *old* state, as in Cho et al.
(Chung et al. 2014 write the mirror image).

Weights follow `keras.layers.GRU`: `kernel` (W) and `recurrent_kernel` (U)
with blocks [z, r, h]; `bias` is `(2, 3 * units)` (rows: input, recurrent)
with reset_after, else `(3 * units,)`.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell, check_use_cudnn


@keras.saving.register_keras_serializable(package="zoo")
class GRUCell(RecurrentCell):
    """Cell of the GRU: one time step.

    Args:
        units: Positive integer, dimensionality of the state h.
        reset_after: Apply the reset gate after the recurrent matmul (True,
            default; cuDNN/PyTorch/Keras) or before it (False; Cho et al.
            v3).
        activation: Activation of the candidate state (tanh).
        use_bias: Whether the layer has biases.
        implementation: Keras's legacy choice between one matrix product
            for all gates (2) and one per gate (1), accepted (any value, as
            Keras 3 accepts it) and ignored: both compute the same function,
            and the cell always takes the fused products. Stored as
            `self.implementation` and, as in Keras, left out of
            `get_config()`.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the gates, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout`, `recurrent_dropout`, `seed`; and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x^t.
        states: `[h^{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(GRUCell(4, reset_after=False))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self, units, reset_after=True, activation="tanh", use_bias=True, **kwargs
    ):
        if not isinstance(reset_after, bool):
            raise ValueError(
                "Argument `reset_after` must be True or False. "
                f"Received: reset_after={reset_after!r}"
            )
        # Keras's legacy argument: accepted, ignored, not in get_config().
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, **kwargs)
        self.implementation = implementation
        self.reset_after = reset_after
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], 3 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(3 * self.units)
        bias_shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self.bias = self.add_bias(bias_shape) if self.use_bias else None

    def step(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)
        u = self.units

        # W x^t + b for all three blocks [z, r, h].
        x_proj = ops.matmul(x, self.kernel)
        if self.use_bias:
            input_bias = self.bias[0] if self.reset_after else self.bias
            x_proj = x_proj + input_bias
        x_z, x_r, x_h = ops.split(x_proj, 3, axis=-1)

        if self.reset_after:
            # U h^{t-1} + b' for all three blocks in one matmul.
            h_proj = ops.matmul(h_tm1_dropped, self.recurrent_kernel)
            if self.use_bias:
                h_proj = h_proj + self.bias[1]
            h_z, h_r, h_h = ops.split(h_proj, 3, axis=-1)
        else:
            h_z, h_r = ops.split(
                ops.matmul(h_tm1_dropped, self.recurrent_kernel[:, : 2 * u]),
                2,
                axis=-1,
            )

        # z^t = σ(W_z x^t + U_z h^{t-1} + b_z)
        z = self.recurrent_activation(x_z + h_z)
        # r^t = σ(W_r x^t + U_r h^{t-1} + b_r)
        r = self.recurrent_activation(x_r + h_r)
        if self.reset_after:
            # h̃^t = tanh(W_h x^t + b_h + r^t ⊙ (U_h h^{t-1} + b'_h))
            hh = self.activation(x_h + r * h_h)
        else:
            # h̃^t = tanh(W_h x^t + U_h (r^t ⊙ h^{t-1}) + b_h)
            recurrent_h = ops.matmul(
                r * h_tm1_dropped, self.recurrent_kernel[:, 2 * u :]
            )
            hh = self.activation(x_h + recurrent_h)
        # h^t = z^t ⊙ h^{t-1} + (1 - z^t) ⊙ h̃^t
        h = z * h_tm1 + (1.0 - z) * hh
        return h, [h], {"z": z, "r": r, "h_tilde": hh, "h": h}

    def get_config(self):
        config = {
            "reset_after": self.reset_after,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class GRU(RNN):
    """Gated Recurrent Unit layer (Cho et al. 2014).

    Runs `GRUCell` over a sequence. Weights, names, shapes and outputs equal
    `keras.layers.GRU` for both `reset_after` settings, so the two exchange
    `get_weights()`.

    Args:
        units: Positive integer, dimensionality of the state.
        reset_after: True (default): reset gate after the recurrent matmul,
            with a recurrent bias (cuDNN/PyTorch/Keras). False: before it
            (Cho et al. v3).
        use_cudnn: "auto" (default) or False, as `keras.layers.GRU` takes
            it; both mean the zoo's own loop, as the zoo has no cuDNN path.
            True (cuDNN or an error, in Keras) raises `ValueError`.
        **kwargs: Every other argument of `GRUCell` (activation, biases,
            initializers, regularizers, constraints, dropout, seed, Keras's
            legacy `implementation`), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(GRU(4, reset_after=False, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(self, *args, use_cudnn="auto", **kwargs):
        check_use_cudnn(use_cudnn)
        super().__init__(*args, **kwargs)
        self.use_cudnn = use_cudnn

    @property
    def reset_after(self):
        return self.cell.reset_after

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}

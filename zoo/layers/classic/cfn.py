"""CFN: the chaos-free network.

Laurent & von Brecht, "A recurrent neural network without chaos" (ICLR 2017,
arXiv:1612.06212). Designed to show that an RNN with simple, predictable
dynamics can match the LSTM at word-level language modelling: without input
the state of a CFN decays monotonically to zero, whereas LSTMs and GRUs can
behave chaotically. With gates θ (on the old state) and η (on the input):

    θ_t = σ(U_θ h_{t-1} + V_θ x_t + b_θ)
    η_t = σ(U_η h_{t-1} + V_η x_t + b_η)
    h_t = θ_t ⊙ tanh(h_{t-1}) + η_t ⊙ tanh(W x_t)

The input enters only through tanh(W x_t), which has no bias, and the state
through tanh(h_{t-1}), which has no weight.

Weights: `kernel` (features, 3u) [V_θ, V_η, W], `recurrent_kernel`
(u, 2u) [U_θ, U_η], `bias` (2u,) [b_θ, b_η]. Matrices act on the right of a
row vector (x_t W), as in Keras; from a PyTorch-style `(out, in)` weight,
transpose it.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class CFNCell(RecurrentCell):
    """Cell of the chaos-free network (Laurent & von Brecht 2017).

    Args:
        units: Positive integer, dimensionality of the state h.
        use_bias: Whether the gates have the biases b_θ, b_η.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of θ and η, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout` (of x_t), `recurrent_dropout` (of h_{t-1} in the
            gates), `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(CFNCell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(self, units, use_bias=True, **kwargs):
        if not isinstance(use_bias, bool):
            raise ValueError(
                "Argument `use_bias` must be True or False. "
                f"Received: use_bias={use_bias!r}"
            )
        super().__init__(units, **kwargs)
        self.use_bias = use_bias
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], 3 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(2 * self.units)
        self.bias = self.add_bias((2 * self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x_t, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        V_x_theta, V_x_eta, W_x = ops.split(
            ops.matmul(x_t, self.kernel), 3, axis=-1
        )
        gates = ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        if self.use_bias:
            gates = gates + self.bias
        U_h_theta, U_h_eta = ops.split(gates, 2, axis=-1)

        # θ_t = σ(U_θ h_{t-1} + V_θ x_t + b_θ)
        theta = self.recurrent_activation(U_h_theta + V_x_theta)
        # η_t = σ(U_η h_{t-1} + V_η x_t + b_η)
        eta = self.recurrent_activation(U_h_eta + V_x_eta)
        # h_t = θ_t ⊙ tanh(h_{t-1}) + η_t ⊙ tanh(W x_t)
        h = theta * ops.tanh(h_tm1) + eta * ops.tanh(W_x)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="zoo")
class CFN(RNN):
    """Chaos-free network layer (Laurent & von Brecht 2017).

    Runs `CFNCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        **kwargs: Every other argument of `CFNCell` (`use_bias`,
            initializers, regularizers, constraints, dropout, seed), of
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
    >>> tuple(CFN(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = CFNCell
    cell_name = "cfn_cell"

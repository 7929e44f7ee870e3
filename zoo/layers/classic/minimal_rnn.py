"""MinimalRNN: Chen 2017.

Minmin Chen, "MinimalRNN: Toward More Interpretable and Trainable Recurrent
Neural Networks" (NIPS 2017 Symposium on Interpretable Machine Learning;
arXiv:1711.06788). The input is first mapped to a latent space by Φ; the
state then only ever moves between its old value and that latent point,
under one update gate:

    z_t = Φ(x_t)                                                latent input
    u_t = σ(U_h h_{t-1} + U_z z_t + b_u)                        update gate
    h_t = u_t ⊙ h_{t-1} + (1 - u_t) ⊙ z_t

Because h_t is a convex combination of h_{t-1} and z_t, every state stays in
the region that Φ maps the inputs to, which is what makes the cell
interpretable. The paper argues, with mean-field analysis of its
input-output Jacobian (dynamical isometry), that the simple structure also
keeps it trainable, and reports performance comparable to the LSTM and GRU
on a language modelling task.

Φ: the paper allows any map (identity, a few dense layers, a convolutional
network). The zoo takes one dense layer, Φ(x_t) = tanh(W_x x_t + b_z)
(`activation` chooses the tanh), as torchrecurrent does, so that z_t and
h_t have `units` entries for any input width.

Dropout: `dropout` masks x_t before Φ; `recurrent_dropout` masks h_{t-1}
in the gate's U_h h_{t-1}; the carry u_t ⊙ h_{t-1} uses the undropped
state.

Weights: `kernel` (W_x) is `(input_dim, units)`, `recurrent_kernel` (U_h)
is `(units, units)`, `latent_kernel` (U_z) is `(units, units)` (with the
kernel's initializer, regularizer and constraint), and `bias` is
`(2 * units,)`, blocks [z, u] (b_z of Φ, then b_u). torchrecurrent's
`MinimalRNNCell` holds `weight_ih = W_x.T`, `weight_hh = U_h.T`,
`weight_mm = U_z.T`, `bias_ih = b_z`, `bias_hh = b_u`.
Parameters: m n + 2 n² + 2 n for input width m and n units.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class MinimalRNNCell(RecurrentCell):
    """Cell of the MinimalRNN: one time step.

    Args:
        units: Positive integer, dimensionality of the latent space, of z
            and of the state h.
        activation: The nonlinearity of Φ(x) = activation(W_x x + b_z)
            (tanh).
        use_bias: Whether the layer has the biases b_z and b_u.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the update gate, sigmoid),
            `kernel_initializer` (of W_x and U_z), `recurrent_initializer`
            (of U_h), `bias_initializer`, their regularizers and
            constraints, `dropout`, `recurrent_dropout`, `seed`; and Keras's
            layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MinimalRNNCell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(self.units)
        self.latent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="latent_kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = self.add_bias((2 * self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)
        u = self.units

        # z_t = Φ(x_t) = tanh(W_x x_t + b_z)
        pre_z = ops.matmul(x, self.kernel)
        if self.use_bias:
            pre_z = pre_z + self.bias[:u]
        z = self.activation(pre_z)
        # u_t = σ(U_h h_{t-1} + U_z z_t + b_u)
        pre_u = ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        pre_u = pre_u + ops.matmul(z, self.latent_kernel)
        if self.use_bias:
            pre_u = pre_u + self.bias[u:]
        gate = self.recurrent_activation(pre_u)
        # h_t = u_t ⊙ h_{t-1} + (1 - u_t) ⊙ z_t
        h = gate * h_tm1 + (1.0 - gate) * z
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class MinimalRNN(RNN):
    """MinimalRNN layer (Chen 2017).

    Runs `MinimalRNNCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the latent space and
            the state.
        **kwargs: Every other argument of `MinimalRNNCell` (activation,
            biases, initializers, regularizers, constraints, dropout, seed),
            of `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(MinimalRNN(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = MinimalRNNCell
    cell_name = "minimal_rnn_cell"

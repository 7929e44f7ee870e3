"""Multiplicative LSTM: Krause et al. 2017.

Ben Krause, Liang Lu, Iain Murray & Steve Renals, "Multiplicative LSTM for
sequence modelling" (ICLR 2017 workshop track, arXiv:1609.07959). The LSTM's
gates and block input read an intermediate state m_t, the element-wise
product of an input projection and a recurrent projection (as in the
multiplicative RNN of Sutskever et al. 2011), instead of h_{t-1}:

    m_t = (W_mx x_t) ⊙ (W_mh h_{t-1})                  intermediate state
    ĥ_t = W_hx x_t + W_hm m_t + b_h                     block input
    i_t = σ(W_ix x_t + W_im m_t + b_i)                  input gate
    f_t = σ(W_fx x_t + W_fm m_t + b_f)                  forget gate
    o_t = σ(W_ox x_t + W_om m_t + b_o)                  output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(ĥ_t)
    h_t = tanh(c_t) ⊙ o_t

So the recurrent transition W_hm diag(W_mx x_t) W_mh differs for every
input: the paper's argument is that such input-dependent transitions are
more expressive for autoregressive density estimation, and that mLSTM can
recover from surprising inputs more quickly than an LSTM. Designed for
character-level language modelling. m_t has the width of h (`units`), as
in the paper's models.

Where the zoo differs: the paper writes its equations without biases; the
cell has the usual LSTM biases (`use_bias=True`; False drops them) and, as
`keras.layers.LSTM`, initialises the forget gate's to 1
(`unit_forget_bias`). tanh on ĥ_t and on c_t (`activation`) are the
standard LSTM's block input and output squashing, as in the common
implementations (torchrecurrent, RecurrentLayers.jl).

Weights: `kernel` `(input_dim, 5 * units)` with blocks
[W_mx | W_ix | W_fx | W_hx | W_ox] (m first, then Keras's LSTM order
[i, f, c, o] with ĥ in the place of Keras's c); `recurrent_kernel` W_mh
`(units, units)`, the only weight applied to h_{t-1};
`multiplicative_kernel` `(units, 4 * units)` with blocks
[W_im | W_fm | W_hm | W_om]; `bias` `(4 * units,)` with blocks
[b_i | b_f | b_h | b_o].

Dropout: `dropout` drops x_t, `recurrent_dropout` drops h_{t-1} before W_mh,
one mask per sequence each.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class MultiplicativeLSTMCell(RecurrentCell):
    """Cell of the multiplicative LSTM: one time step.

    Args:
        units: Positive integer, dimensionality of h, c and m.
        activation: The squashing of ĥ_t and c_t (tanh).
        use_bias: Whether the gates and ĥ have biases.
        unit_forget_bias: Whether the forget gate's bias starts at 1 (as
            in `keras.layers.LSTM`; needs `use_bias`).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the gates, sigmoid),
            `kernel_initializer` (the kernel and the multiplicative
            kernel), `recurrent_initializer` (W_mh), `bias_initializer`,
            regularizers and constraints, `dropout`, `recurrent_dropout`,
            `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}, c_{t-1}]`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MultiplicativeLSTMCell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    state_names = ["h", "c"]  # what `step` reports

    def __init__(
        self, units, activation="tanh", use_bias=True, unit_forget_bias=True, **kwargs
    ):
        if not isinstance(unit_forget_bias, bool):
            raise ValueError(
                "Argument `unit_forget_bias` must be True or False. "
                f"Received: unit_forget_bias={unit_forget_bias!r}"
            )
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [units, units]

    def build(self, input_shape):
        super().build(input_shape)
        u = self.units
        self.kernel = self.add_kernel(input_shape[-1], 5 * u)
        self.recurrent_kernel = self.add_recurrent_kernel(u)
        self.multiplicative_kernel = self.add_weight(
            shape=(u, 4 * u),
            name="multiplicative_kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if not self.use_bias:
            self.bias = None
            return
        initializer = self.bias_initializer
        if self.unit_forget_bias:

            def initializer(shape, dtype=None):
                # [b_i | b_f = 1 | b_h | b_o]
                return ops.concatenate(
                    [
                        self.bias_initializer((u,), dtype=dtype),
                        ops.ones((u,), dtype=dtype),
                        self.bias_initializer((2 * u,), dtype=dtype),
                    ]
                )

        self.bias = self.add_bias((4 * u,), initializer=initializer)

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states
        x, h_tm1 = self.dropped_inputs(inputs, h_tm1, training)
        u = self.units
        x_proj = ops.matmul(x, self.kernel)
        x_m, x_gates = x_proj[:, :u], x_proj[:, u:]
        # m_t = (W_mx x_t) ⊙ (W_mh h_{t-1})
        m = x_m * ops.matmul(h_tm1, self.recurrent_kernel)
        # W_*x x_t + W_*m m_t + b_* for the blocks [i, f, ĥ, o].
        pre = x_gates + ops.matmul(m, self.multiplicative_kernel)
        if self.use_bias:
            pre = pre + self.bias
        pre_i, pre_f, h_hat, pre_o = ops.split(pre, 4, axis=-1)
        i = self.recurrent_activation(pre_i)  # i_t = σ(W_ix x_t + W_im m_t + b_i)
        f = self.recurrent_activation(pre_f)  # f_t = σ(W_fx x_t + W_fm m_t + b_f)
        o = self.recurrent_activation(pre_o)  # o_t = σ(W_ox x_t + W_om m_t + b_o)
        # c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(ĥ_t)
        c = f * c_tm1 + i * self.activation(h_hat)
        # h_t = tanh(c_t) ⊙ o_t
        h = self.activation(c) * o
        return h, [h, c]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class MultiplicativeLSTM(RNN):
    """Multiplicative LSTM layer (Krause et al. 2017).

    Runs `MultiplicativeLSTMCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        **kwargs: Every other argument of `MultiplicativeLSTMCell`
            (activation, use_bias, unit_forget_bias, initializers,
            regularizers, constraints, dropout, seed), of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`), and of a Keras layer (`name`,
            `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h, c]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(MultiplicativeLSTM(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = MultiplicativeLSTMCell
    cell_name = "multiplicative_lstm_cell"

"""ATR: the addition-subtraction twin-gated recurrent network.

Zhang, Xiong, Su, Lin & Zhang, "Simplifying Neural Machine Translation with
Addition-Subtraction Twin-Gated Recurrent Networks" (EMNLP 2018,
arXiv:1810.12546). Designed as a cheaper GRU/LSTM for neural machine
translation: two weight matrices only, and both gates come from the same two
projections, one by their sum and one by their difference:

    p_t = W x_t
    q_t = U h_{t-1}
    i_t = σ(p_t + q_t)                  input gate
    f_t = σ(p_t - q_t)                  forget gate
    h_t = i_t ⊙ p_t + f_t ⊙ h_{t-1}

The paper's equations have no bias. The authors' code (the `atr` cell of
bzhangGo/zero, `rnns/atr.py`) computes q_t with a linear layer that has one
(zero-initialized), q_t = U h_{t-1} + b; the zoo does too, and
`use_bias=False` gives the paper's equations.

Weights: `kernel` (features, units) W, `recurrent_kernel` (units, units) U,
`bias` (units,) b on q_t. Matrices act on the right of a row vector
(x_t W), as in Keras; from a PyTorch-style `(out, in)` weight, transpose it.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class ATRCell(RecurrentCell):
    """Cell of ATR (Zhang et al. 2018): one time step.

    Args:
        units: Positive integer, dimensionality of the state h.
        use_bias: Whether q_t has the bias b (the authors' code), or not
            (the paper's equations).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the twin gates, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout` (of x_t), `recurrent_dropout` (of h_{t-1} in q_t),
            `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(ATRCell(4))
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
        self.kernel = self.add_kernel(input_shape[-1], self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(self.units)
        self.bias = self.add_bias((self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x_t, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        # p_t = W x_t
        p = ops.matmul(x_t, self.kernel)
        # q_t = U h_{t-1} (+ b)
        q = ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        if self.use_bias:
            q = q + self.bias
        # i_t = σ(p_t + q_t)
        i = self.recurrent_activation(p + q)
        # f_t = σ(p_t - q_t)
        f = self.recurrent_activation(p - q)
        # h_t = i_t ⊙ p_t + f_t ⊙ h_{t-1}
        h = i * p + f * h_tm1
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="zoo")
class ATR(RNN):
    """ATR layer (Zhang et al. 2018), the twin-gated recurrent network.

    Runs `ATRCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        **kwargs: Every other argument of `ATRCell` (`use_bias`,
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
    >>> tuple(ATR(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = ATRCell
    cell_name = "atr_cell"

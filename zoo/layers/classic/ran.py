"""Recurrent Additive Network (RAN): Lee, Levy & Zettlemoyer 2017.

Kenton Lee, Omer Levy & Luke Zettlemoyer, "Recurrent Additive Networks"
(arXiv:1705.07393, 2017). An LSTM stripped to its additive core: the
content layer c̃ is a purely linear function of the input, and the state is
an element-wise weighted sum of those contents, with no recurrent
non-linearity inside the recurrence:

    c̃_t = W_cx x_t                                        content layer
    i_t = σ(W_ih h_{t-1} + W_ix x_t + b_i)                input gate
    f_t = σ(W_fh h_{t-1} + W_fx x_t + b_f)                forget gate
    c_t = i_t ⊙ c̃_t + f_t ⊙ c_{t-1}                       memory cell
    h_t = g(c_t)                                          output

with g = tanh ("tanh RAN") or the identity ("identity RAN"); the paper
reports both. Unrolled, c_t = Σ_{j≤t} (i_j ⊙ Π_{k=j+1..t} f_k) ⊙ W_cx x_j: a
component-wise weighted sum of the linearly projected inputs, which is the
paper's point (the gates alone carry the non-linear computation). It was
designed for language modelling (Penn Treebank, text8, Billion Word).

Weights (Keras convention, `x @ W`): `kernel` `(input_dim, 3 * units)` with
blocks [c̃, i, f] (W_cx, W_ix, W_fx); `recurrent_kernel` `(units,
2 * units)` with blocks [i, f] (W_ih, W_fh); `bias` `(2 * units,)` with
blocks [i, f]. The content layer has no bias, as in the paper and the
authors' TensorFlow code (kentonl/ran, `ran.py`). Porting from that code:
`content/w` → `kernel[:, :units]`; the gates' `w`, whose rows are
`[x; h]`, splits into `kernel[:, units:]` (its first `input_dim` rows) and
`recurrent_kernel` (the rest); the gates' `b` → `bias`.

States are `[h, c]` for both choices of g (for the identity RAN h = c, kept
as two states so that every configuration has the same state layout).
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class RANCell(RecurrentCell):
    """Cell of the Recurrent Additive Network: one time step.

    Args:
        units: Positive integer, dimensionality of c_t and h_t.
        activation: g in h_t = g(c_t): "tanh" (default, the tanh RAN) or
            "linear" (the identity RAN); any Keras activation is accepted.
        use_bias: Whether the gates have the biases b_i, b_f (the content
            layer never has one).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the gates, sigmoid),
            `kernel_initializer` (W_cx, W_ix, W_fx), `recurrent_initializer`
            (W_ih, W_fh), `bias_initializer` (zeros), their regularizers and
            constraints, `dropout` (on x_t), `recurrent_dropout` (on
            h_{t-1}, as the gates read it), `seed`; and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}, c_{t-1}]`, each `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(RANCell(4, activation="linear"))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    state_names = ["h", "c"]  # what `step` reports

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.state_size = [units, units]  # [h, c]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], 3 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(2 * self.units)
        self.bias = self.add_bias((2 * self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        # [W_cx x_t, W_ix x_t, W_fx x_t] in one matmul.
        x_c, x_i, x_f = ops.split(ops.matmul(x, self.kernel), 3, axis=-1)
        # [W_ih h_{t-1}, W_fh h_{t-1}] (+ [b_i, b_f]).
        h_proj = ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        if self.use_bias:
            h_proj = h_proj + self.bias
        h_i, h_f = ops.split(h_proj, 2, axis=-1)

        # c̃_t = W_cx x_t
        content = x_c
        # i_t = σ(W_ih h_{t-1} + W_ix x_t + b_i)
        i = self.recurrent_activation(h_i + x_i)
        # f_t = σ(W_fh h_{t-1} + W_fx x_t + b_f)
        f = self.recurrent_activation(h_f + x_f)
        # c_t = i_t ⊙ c̃_t + f_t ⊙ c_{t-1}
        c = i * content + f * c_tm1
        # h_t = g(c_t)
        h = self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class RAN(RNN):
    """Recurrent Additive Network layer (Lee, Levy & Zettlemoyer 2017).

    Runs `RANCell` over a sequence: an LSTM-like memory whose content layer
    is linear in the input, so the state is a gated, component-wise weighted
    sum of the projected inputs.

    Args:
        units: Positive integer, dimensionality of the state.
        activation: g: "tanh" (default, tanh RAN) or "linear" (identity
            RAN).
        **kwargs: Every other argument of `RANCell` (biases, initializers,
            regularizers, constraints, dropout, seed), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h, c]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(RAN(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = RANCell
    cell_name = "ran_cell"

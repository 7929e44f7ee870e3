"""NAS cell: the recurrent cell that Zoph & Le's controller found for PTB.

Zoph & Le, "Neural Architecture Search with Reinforcement Learning" (ICLR
2017, arXiv:1611.01578). A recurrent controller trained with REINFORCE
wrote cells as trees of "combine two inputs, then apply an activation"
nodes; the best cell for Penn Treebank language modelling (the paper's
appendix figure, "Penn Treebank" cell) is this one, the cell of TensorFlow
1's `tf.contrib.rnn.NASCell` and TF Addons' `tfa.rnn.NASCell`. The paper
reports a PTB test perplexity of 62.4 with it, 3.6 better than the previous
state of the art.

The tree has eight leaves, each combining one projection of the input x_t
and one of the previous output h_{t-1} (W_k, U_k, b_k the k-th blocks,
σ the logistic sigmoid):

    a_k = W_k x_t,  m_k = U_k h_{t-1} + b_k            k = 0..7

    first layer
    l_0 = σ(a_0 + m_0)          l_1 = ReLU(a_1 + m_1)
    l_2 = σ(a_2 + m_2)          l_3 = ReLU(a_3 ⊙ m_3)
    l_4 = tanh(a_4 + m_4)       l_5 = σ(a_5 + m_5)
    l_6 = tanh(a_6 + m_6)       l_7 = σ(a_7 + m_7)
    second layer
    n_0 = tanh(l_0 ⊙ l_1)       n_1 = tanh(l_2 + l_3)
    n_2 = tanh(l_4 ⊙ l_5)       n_3 = σ(l_6 + l_7)
    the memory cell is injected into n_0
    n_0' = tanh(n_0 + c_{t-1})
    third layer: the new memory, and the other branch
    c_t = n_0' ⊙ n_1            k = tanh(n_2 + n_3)
    output
    h_t = tanh(c_t ⊙ k)

Leaf 3 multiplies its two projections, and the bias sits on the recurrent
side, so l_3 = ReLU(W_3 x_t ⊙ (U_3 h_{t-1} + b_3)).

Weights, as in TF Addons' `NASCell` (without its optional projection, which
the zoo leaves out): `kernel` (features, 8u) [W_0 .. W_7], `recurrent_kernel`
(u, 8u) [U_0 .. U_7], `bias` (8u,) [b_0 .. b_7]. TF Addons creates
`recurrent_kernel` before `kernel`, so `get_weights()` lists them in the other
order there; swap the first two arrays when porting. The states are
`[h, c]` (TF Addons: `[c, m]`), output first as in `keras.layers.LSTM`.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell

# Leaves of the tree: eight (input, recurrent) projection pairs.
NAS_LEAVES = 8


@keras.saving.register_keras_serializable(package="zoo")
class NASCell(RecurrentCell):
    """Cell of Zoph & Le's NAS cell for Penn Treebank: one time step.

    Args:
        units: Positive integer, dimensionality of the output h and the
            memory c.
        use_bias: Whether the cell has the biases b_0 .. b_7.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ at the tree's sigmoid nodes, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout` (of x_t), `recurrent_dropout` (of h_{t-1}), `seed`;
            and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}, c_{t-1}]`, each `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(NASCell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    state_names = ["h", "c"]  # what `step` reports

    def __init__(self, units, use_bias=True, **kwargs):
        if not isinstance(use_bias, bool):
            raise ValueError(
                "Argument `use_bias` must be True or False. "
                f"Received: use_bias={use_bias!r}"
            )
        super().__init__(units, **kwargs)
        self.use_bias = use_bias
        self.state_size = [units, units]

    def build(self, input_shape):
        super().build(input_shape)
        width = NAS_LEAVES * self.units
        self.kernel = self.add_kernel(input_shape[-1], width)
        self.recurrent_kernel = self.add_recurrent_kernel(width)
        self.bias = self.add_bias((width,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states
        x, h_tm1 = self.dropped_inputs(inputs, h_tm1, training)
        sigma, relu, tanh = self.recurrent_activation, ops.relu, ops.tanh

        # a_k = W_k x_t,  m_k = U_k h_{t-1} + b_k
        a = ops.split(ops.matmul(x, self.kernel), NAS_LEAVES, axis=-1)
        m = ops.matmul(h_tm1, self.recurrent_kernel)
        if self.use_bias:
            m = m + self.bias
        m = ops.split(m, NAS_LEAVES, axis=-1)

        # First layer: the eight leaves.
        l_0 = sigma(a[0] + m[0])
        l_1 = relu(a[1] + m[1])
        l_2 = sigma(a[2] + m[2])
        l_3 = relu(a[3] * m[3])
        l_4 = tanh(a[4] + m[4])
        l_5 = sigma(a[5] + m[5])
        l_6 = tanh(a[6] + m[6])
        l_7 = sigma(a[7] + m[7])
        # Second layer.
        n_0 = tanh(l_0 * l_1)
        n_1 = tanh(l_2 + l_3)
        n_2 = tanh(l_4 * l_5)
        n_3 = sigma(l_6 + l_7)
        # n_0' = tanh(n_0 + c_{t-1}): the memory cell enters here.
        n_0 = tanh(n_0 + c_tm1)
        # c_t = n_0' ⊙ n_1
        c = n_0 * n_1
        # k = tanh(n_2 + n_3)
        k = tanh(n_2 + n_3)
        # h_t = tanh(c_t ⊙ k)
        h = tanh(c * k)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="zoo")
class NAS(RNN):
    """NAS cell layer (Zoph & Le 2017, the Penn Treebank cell).

    Runs `NASCell` over a sequence; the module docstring gives the tree and
    the weight layout.

    Args:
        units: Positive integer, dimensionality of the output and memory.
        **kwargs: Every other argument of `NASCell` (`use_bias`,
            initializers, regularizers, constraints, dropout, seed), of
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
    >>> outputs, h, c = NAS(4, return_sequences=True, return_state=True)(x)
    >>> tuple(outputs.shape), tuple(c.shape)
    ((8, 10, 4), (8, 4))
    """

    cell_class = NASCell
    cell_name = "nas_cell"

"""Minimal Gated Unit: Zhou, Wu, Zhang & Zhou 2016.

Zhou, Wu, Zhang & Zhou, "Minimal Gated Unit for Recurrent Neural Networks"
(International Journal of Automation and Computing 13(3), 2016;
arXiv:1603.09420). The MGU is a GRU with one gate: the forget gate f^t
does the work of both the GRU's reset and update gates.

    f^t = σ(W_f x^t + U_f h^{t-1} + b_f)                        forget gate
    h̃^t = tanh(W_h x^t + U_h (f^t ⊙ h^{t-1}) + b_h)             candidate
    h^t = (1 - f^t) ⊙ h^{t-1} + f^t ⊙ h̃^t

(The paper writes W_f [h^{t-1}, x^t] for one matrix over the concatenation;
here it is split into W_f, acting on x^t, and U_f, acting on h^{t-1}.)
Note that f^t weights the *candidate*: f^t = 1 replaces the state, f^t = 0
keeps it, the mirror image of the GRU's z^t in `gru.py`.

It was designed to be the simplest gated unit that still learns like a GRU
or an LSTM: with two blocks of weights instead of the GRU's three (LSTM's
four) it trains faster per step, and the paper reports accuracy comparable
to the GRU's on the adding problem, MNIST digits read as sequences, IMDB
sentiment and Penn Treebank language modelling, with fewer parameters.

Weights: `kernel` (W) is `(input_dim, 2 * units)` and `recurrent_kernel`
(U) is `(units, 2 * units)`, both with blocks [f, h]; `bias` is
`(2 * units,)`, blocks [f, h]. PyTorch-style implementations (e.g.
torchrecurrent's `MGUCell`) keep `weight_ih = kernel.T`,
`weight_hh = recurrent_kernel.T` in the same [f, h] order, with two biases
whose sum is `bias` (when b_hh's h block is added outside f ⊙, as there).
Parameters: 2 (m n + n² + n) for input width m and n units.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class MGUCell(RecurrentCell):
    """Cell of the Minimal Gated Unit: one time step.

    Args:
        units: Positive integer, dimensionality of the state h.
        activation: Activation of the candidate state h̃ (tanh).
        use_bias: Whether the layer has the biases b_f and b_h.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the forget gate, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout`, `recurrent_dropout`, `seed`; and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x^t.
        states: `[h^{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MGUCell(4))
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
        self.kernel = self.add_kernel(input_shape[-1], 2 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(2 * self.units)
        self.bias = self.add_bias((2 * self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)
        u = self.units

        # W x^t + b for both blocks [f, h].
        x_proj = ops.matmul(x, self.kernel)
        if self.use_bias:
            x_proj = x_proj + self.bias
        x_f, x_h = ops.split(x_proj, 2, axis=-1)

        # f^t = σ(W_f x^t + U_f h^{t-1} + b_f)
        f = self.recurrent_activation(
            x_f + ops.matmul(h_tm1_dropped, self.recurrent_kernel[:, :u])
        )
        # h̃^t = tanh(W_h x^t + U_h (f^t ⊙ h^{t-1}) + b_h)
        hh = self.activation(
            x_h + ops.matmul(f * h_tm1_dropped, self.recurrent_kernel[:, u:])
        )
        # h^t = (1 - f^t) ⊙ h^{t-1} + f^t ⊙ h̃^t
        h = (1.0 - f) * h_tm1 + f * hh
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class MGU(RNN):
    """Minimal Gated Unit layer (Zhou et al. 2016).

    Runs `MGUCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        **kwargs: Every other argument of `MGUCell` (activation, biases,
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
    >>> tuple(MGU(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = MGUCell
    cell_name = "mgu_cell"

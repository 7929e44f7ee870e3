"""Update-gate RNN (UGRNN): Collins, Sohl-Dickstein & Sussillo 2017.

Collins, Sohl-Dickstein & Sussillo, "Capacity and Trainability in Recurrent
Neural Networks" (ICLR 2017, arXiv:1611.09913). The UGRNN is a vanilla RNN
with one update gate g^t that interpolates between the old state and a
candidate c^t, i.e. a GRU without the reset gate:

    c^t = s(W^{ch} h^{t-1} + W^{cx} x^t + b^c)                  candidate
    g^t = σ(W^{gh} h^{t-1} + W^{gx} x^t + b^g)                  update gate
    h^t = g^t ⊙ h^{t-1} + (1 - g^t) ⊙ c^t

with s = tanh. The paper introduced it (with the Intersection RNN,
`intersection_rnn.py`) while measuring what recurrent architectures can
store: it reports that all common architectures store about 5 bits per
parameter and can remember about one real number per hidden unit, so that
their differences in practice come from trainability, where the gated
architectures (GRU, LSTM, UGRNN, +RNN) were markedly easier to train than
the vanilla RNN. The UGRNN is the paper's minimal gated architecture.

Weights: `kernel` (W^{·x}) is `(input_dim, 2 * units)` and
`recurrent_kernel` (W^{·h}) is `(units, 2 * units)`, both with blocks
[c, g] in the paper's order; `bias` is `(2 * units,)`, blocks [c, g].
torchrecurrent's `UGRNNCell` uses the same block order (`weight_ih =
kernel.T`, `weight_hh = recurrent_kernel.T`, two biases summing to
`bias`). TensorFlow 1's `tf.contrib.rnn.UGRNNCell` has one matrix over
[x, h] with blocks [g, c] (its first `input_dim` rows are `kernel`, the
rest `recurrent_kernel`, after swapping the blocks) and adds a constant
`forget_bias` (1.0) to the gate, so add it to the g block of `bias` when
porting. Parameters: 2 (m n + n² + n) for input width m and n units.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class UGRNNCell(RecurrentCell):
    """Cell of the update-gate RNN: one time step.

    Args:
        units: Positive integer, dimensionality of the state h.
        activation: The nonlinearity s of the candidate c^t (tanh).
        use_bias: Whether the layer has the biases b^c and b^g.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the update gate, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout`, `recurrent_dropout`, `seed`; and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x^t.
        states: `[h^{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(UGRNNCell(4))
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

        # W^{·h} h^{t-1} + W^{·x} x^t + b^· for both blocks [c, g].
        pre = ops.matmul(x, self.kernel)
        pre = pre + ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        if self.use_bias:
            pre = pre + self.bias
        pre_c, pre_g = ops.split(pre, 2, axis=-1)

        # c^t = s(W^{ch} h^{t-1} + W^{cx} x^t + b^c)
        c = self.activation(pre_c)
        # g^t = σ(W^{gh} h^{t-1} + W^{gx} x^t + b^g)
        g = self.recurrent_activation(pre_g)
        # h^t = g^t ⊙ h^{t-1} + (1 - g^t) ⊙ c^t
        h = g * h_tm1 + (1.0 - g) * c
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class UGRNN(RNN):
    """Update-gate RNN layer (Collins, Sohl-Dickstein & Sussillo 2017).

    Runs `UGRNNCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        **kwargs: Every other argument of `UGRNNCell` (activation, biases,
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
    >>> tuple(UGRNN(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = UGRNNCell
    cell_name = "ugrnn_cell"

"""Intersection RNN (+RNN): Collins, Sohl-Dickstein & Sussillo 2017.

Collins, Sohl-Dickstein & Sussillo, "Capacity and Trainability in Recurrent
Neural Networks" (ICLR 2017, arXiv:1611.09913). The +RNN separates what it
sends up to the next layer, y^t, from what it carries through time, h^t,
each a gated mix of what it passes on unchanged and a new candidate:

    y^t = g^y_t ⊙ x^t + (1 - g^y_t) ⊙ s1(W^{yh} h^{t-1} + W^{yx} x^t + b^y)
    h^t = g^h_t ⊙ h^{t-1} + (1 - g^h_t) ⊙ s2(W^{hh} h^{t-1} + W^{hx} x^t + b^h)
    g^y_t = σ(W^{g^y h} h^{t-1} + W^{g^y x} x^t + b^{g^y})      depth gate
    g^h_t = σ(W^{g^h h} h^{t-1} + W^{g^h x} x^t + b^{g^h})      recurrent gate

with s1 = ReLU on the depth path and s2 = tanh on the recurrent path. The
depth path is a highway-style carry of the input up the stack, so the cell
was designed for deep stacks: the paper reports that in deeply stacked
networks (up to 8 layers) the +RNN was easier to train than the LSTM and
GRU. The same paper measured that common architectures store about 5 bits
per parameter and about one real number per hidden unit.

Widths: the output y^t and the state h^t are both `units` wide. The carry
g^y_t ⊙ x^t needs x^t to be `units` wide too, which the paper assumes (its
+RNN layers sit in stacks of equal width). When the input width m differs
from `units`, the zoo carries a learned linear projection P x^t instead
(weight `input_projection`, `(m, units)`, no bias, created only then),
while the candidates and gates still see x^t itself. This is a departure
from the paper, made so that the first layer of a stack can take any input;
TensorFlow 1's `IntersectionRNNCell` instead replaces x^t on every path
by a projection with a bias when given `num_in_proj` ("the first layer of
a stacked Intersection RNN projects the inputs"), and torchrecurrent
refuses mismatched widths.

State: the cell carries [y^{t-1}, h^{t-1}]. Only h^{t-1} enters the
equations; y^{t-1}, the last output, rides along so that a masked step
repeats it on every backend (Keras's JAX loop takes the first state as the
previous output), as it does for the zoo's other cells. So `initial_state`
is `[y, h]` (y is not in the equations: pass zeros) and `return_state=True`
returns the last output and the last h.

Dropout: `dropout` masks x^t where it enters the matrix products and
`recurrent_dropout` masks h^{t-1} likewise; the carries g^y ⊙ x^t and
g^h ⊙ h^{t-1} use the undropped values.

Weights: `kernel` (W^{·x}) is `(input_dim, 4 * units)` and
`recurrent_kernel` (W^{·h}) is `(units, 4 * units)`, both with blocks
[y, h, g^y, g^h]; `bias` is `(4 * units,)` with the same blocks. This is
torchrecurrent's order (`weight_ih = kernel.T`, `weight_hh =
recurrent_kernel.T`, two biases summing to `bias`). TensorFlow 1's
`tf.contrib.rnn.IntersectionRNNCell` has one matrix over [x, h] (its
first `input_dim` rows are `kernel`, the rest `recurrent_kernel`) with
blocks [g^h, h, g^y, y], one bias, and adds a constant `forget_bias` (1.0)
to both gates: reorder the blocks and add it to the gate biases when
porting. Parameters: 4 (m n + n² + n), plus m n for P when m ≠ n.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class IntersectionRNNCell(RecurrentCell):
    """Cell of the Intersection RNN (+RNN): one time step.

    Its output y^t (sent up the stack) and its recurrent state h^t
    (carried through time) are different tensors, both `units` wide; the
    cell's state list is `[y^{t-1}, h^{t-1}]`, where y^{t-1} is only the
    output a masked step repeats (not in the equations).

    Args:
        units: Positive integer, width of the output y and the state h.
        activation: The nonlinearity s2 of the recurrent candidate (tanh).
        y_activation: The nonlinearity s1 of the depth candidate (relu).
        use_bias: Whether the layer has the biases b^y, b^h, b^{g^y},
            b^{g^h}.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of both gates, sigmoid),
            `kernel_initializer` (also of `input_projection`),
            `recurrent_initializer`, `bias_initializer`, their regularizers
            and constraints, `dropout`, `recurrent_dropout`, `seed`; and
            Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x^t.
        states: `[y^{t-1}, h^{t-1}]`, each `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(IntersectionRNNCell(4), return_state=True)
    >>> y, y_last, h = rnn(np.zeros((2, 5, 3)))
    >>> tuple(y.shape), tuple(h.shape)
    ((2, 4), (2, 4))
    """

    state_names = ["y", "h"]  # what `step` reports

    def __init__(
        self,
        units,
        activation="tanh",
        y_activation="relu",
        use_bias=True,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation)
        self.y_activation = keras.activations.get(y_activation)
        self.use_bias = use_bias
        self.state_size = [units, units]  # [y, h]
        self.output_size = units

    def build(self, input_shape):
        super().build(input_shape)
        input_dim = input_shape[-1]
        self.kernel = self.add_kernel(input_dim, 4 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(4 * self.units)
        self.bias = self.add_bias((4 * self.units,)) if self.use_bias else None
        self.input_projection = None
        if input_dim != self.units:
            # P: carries x^t into the units-wide depth path (zoo's addition).
            self.input_projection = self.add_weight(
                shape=(input_dim, self.units),
                name="input_projection",
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )

    def call(self, inputs, states, training=False):
        h_tm1 = states[1]  # states[0], y^{t-1}, is not in the equations
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        # W^{·h} h^{t-1} + W^{·x} x^t + b^· for the blocks [y, h, g^y, g^h].
        pre = ops.matmul(x, self.kernel)
        pre = pre + ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        if self.use_bias:
            pre = pre + self.bias
        pre_y, pre_h, pre_gy, pre_gh = ops.split(pre, 4, axis=-1)

        # g^y_t = σ(W^{g^y h} h^{t-1} + W^{g^y x} x^t + b^{g^y})
        g_y = self.recurrent_activation(pre_gy)
        # g^h_t = σ(W^{g^h h} h^{t-1} + W^{g^h x} x^t + b^{g^h})
        g_h = self.recurrent_activation(pre_gh)
        # The carried input: x^t, or P x^t when its width is not `units`.
        carry = inputs
        if self.input_projection is not None:
            carry = ops.matmul(inputs, self.input_projection)
        # y^t = g^y_t ⊙ x^t + (1 - g^y_t) ⊙ s1(W^{yh} h^{t-1} + W^{yx} x^t + b^y)
        y = g_y * carry + (1.0 - g_y) * self.y_activation(pre_y)
        # h^t = g^h_t ⊙ h^{t-1} + (1 - g^h_t) ⊙ s2(W^{hh} h^{t-1} + W^{hx} x^t + b^h)
        h = g_h * h_tm1 + (1.0 - g_h) * self.activation(pre_h)
        return y, [y, h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "y_activation": keras.activations.serialize(self.y_activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class IntersectionRNN(RNN):
    """Intersection RNN (+RNN) layer (Collins, Sohl-Dickstein & Sussillo
    2017).

    Runs `IntersectionRNNCell` over a sequence. Its outputs are the depth
    outputs y^t; `return_state=True` returns the states `[y^T, h^T]` after
    them: the last output, then the recurrent state h^T, which differs
    from it.

    Args:
        units: Positive integer, width of the output and the state.
        **kwargs: Every other argument of `IntersectionRNNCell`
            (activations, biases, initializers, regularizers, constraints,
            dropout, seed), of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`,
            `zero_output_for_mask`), and of a Keras layer (`name`, `dtype`,
            `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[y, h]`; y is not in the equations
            (pass zeros).

    Example:

    >>> x = np.random.random((8, 10, 4)).astype("float32")
    >>> tuple(IntersectionRNN(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = IntersectionRNNCell
    cell_name = "intersection_rnn_cell"

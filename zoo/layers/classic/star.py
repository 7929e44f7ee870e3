"""STAckable Recurrent cell (STAR): Turkoglu et al. 2021.

Mehmet Ozgur Turkoglu, Stefano D'Aronco, Jan Dirk Wegner & Konrad
Schindler, "Gating Revisited: Deep Multi-layer RNNs That Can Be Trained"
(IEEE Transactions on Pattern Analysis and Machine Intelligence, 2021,
arXiv:1911.11033). A cell with a single gate k_t, designed so that deep
*stacks* of recurrent layers train: the paper analyses how gradients
propagate along both the time and the depth axis, finds that LSTM and GRU
stacks let them vanish or explode in depth, and derives STAR to keep the
Jacobian norms near one:

    z_t = tanh(W_z x_t + b_z)                                 candidate
    k_t = σ(W_x^K x_t + W_h^K h_{t-1} + b_K)                  gate
    h_t = tanh((1 - k_t) ⊙ h_{t-1} + k_t ⊙ z_t)               state

The candidate z_t reads only the input; only the gate sees h_{t-1}. The
paper initialises b_K with the "chrono" scheme of Tallec & Ollivier (2018),
as the authors' code does with its longest dependency T_max (784, the
length of a pixel-MNIST sequence): the keep gate 1 - k_t starts at
σ(log u), u ~ U(1, T_max), so the cell starts out remembering over up to
T_max steps. In the paper's notation, where k_t admits the new input, that
is b_K = -log u (argument `t_max`; `t_max=None` uses `bias_initializer`
instead).

Weights (Keras convention, `x @ W`): `kernel` `(input_dim, 2 * units)` with
blocks [z, k] (W_z, W_x^K); `recurrent_kernel` `(units, units)`, W_h^K;
`bias` `(2 * units,)` with blocks [z, k] (b_z, b_K). The authors'
TensorFlow code (0zgur0/STAckable-Recurrent-network, `star.py`) names them
`W_xh_z`, `W_xh_K`, `W_hh` and `bias` = [b_z, b_f], with b_f = -b_K and its
keep gate σ(f) = 1 - k_t; so `kernel = [W_xh_z, W_xh_K]` and b_K = -b_f.
That code also shifts the candidate's weight to 1 - σ(f - 1); the zoo
computes the paper's equations above, where the two weights sum to one.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


def check_t_max(value):
    """`t_max` is None or a number greater than 1."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (value is None or (is_number and value > 1)):
        raise ValueError(
            "Argument `t_max` must be None or a number greater than 1. "
            f"Received: t_max={value!r}"
        )


@keras.saving.register_keras_serializable(package="zoo")
class STARCell(RecurrentCell):
    """Cell of the STAckable Recurrent network: one time step.

    Args:
        units: Positive integer, dimensionality of h_t.
        activation: The squashing of z_t and of h_t (tanh).
        use_bias: Whether the cell has the biases b_z and b_K.
        t_max: The longest dependency expected, in steps: b_K starts at
            -log u with u ~ U(1, t_max), the chrono initialisation of the
            paper (784 as in the authors' code). None: b_K, like b_z, comes
            from `bias_initializer`.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the gate, sigmoid),
            `kernel_initializer` (W_z, W_x^K), `recurrent_initializer`
            (W_h^K), `bias_initializer` (b_z; zeros), their regularizers and
            constraints, `dropout` (on x_t), `recurrent_dropout` (on h_{t-1}
            as the gate reads it), `seed` (also of the chrono draw); and
            Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(STARCell(4, t_max=100))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self, units, activation="tanh", use_bias=True, t_max=784, **kwargs
    ):
        check_t_max(t_max)
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.t_max = t_max
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], 2 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(self.units)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_bias((2 * self.units,), self._bias_initializer())

    def _bias_initializer(self):
        """b_z from `bias_initializer`; b_K = -log u, u ~ U(1, t_max)."""
        if self.t_max is None:
            return self.bias_initializer
        uniform = keras.initializers.RandomUniform(
            minval=1.0, maxval=float(self.t_max), seed=self.seed
        )

        def initializer(shape, dtype=None):
            b_z = self.bias_initializer((self.units,), dtype=dtype)
            b_k = -ops.log(uniform((self.units,), dtype=dtype))
            return ops.concatenate([b_z, b_k])

        return initializer

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        # [W_z x_t + b_z, W_x^K x_t + b_K] in one matmul.
        x_proj = ops.matmul(x, self.kernel)
        if self.use_bias:
            x_proj = x_proj + self.bias
        x_z, x_k = ops.split(x_proj, 2, axis=-1)

        # z_t = tanh(W_z x_t + b_z)
        z = self.activation(x_z)
        # k_t = σ(W_x^K x_t + W_h^K h_{t-1} + b_K)
        k = self.recurrent_activation(
            x_k + ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        )
        # h_t = tanh((1 - k_t) ⊙ h_{t-1} + k_t ⊙ z_t)
        h = self.activation((1.0 - k) * h_tm1 + k * z)
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "t_max": self.t_max,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class STAR(RNN):
    """STAckable Recurrent layer (Turkoglu et al. 2021).

    Runs `STARCell` over a sequence: one gate, a candidate that reads only
    the input, and a tanh around the gated sum, which the paper designs so
    that many such layers can be stacked and trained.

    Args:
        units: Positive integer, dimensionality of the state.
        t_max: Chrono initialisation of the gate bias (784 by default; None
            for `bias_initializer`); see `STARCell`.
        **kwargs: Every other argument of `STARCell` (activation, biases,
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
    >>> deep = keras.Sequential([keras.Input((10, 3))] + [
    ...     STAR(4, return_sequences=True) for _ in range(4)])
    >>> tuple(deep(x).shape)
    (8, 10, 4)
    """

    cell_class = STARCell
    cell_name = "star_cell"

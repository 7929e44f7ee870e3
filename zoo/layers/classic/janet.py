"""JANET, "Just Another NETwork": van der Westhuizen & Lasenby 2018.

van der Westhuizen & Lasenby, "The unreasonable effectiveness of the forget
gate" (arXiv:1804.04849, 2018). JANET is an LSTM with only its forget gate:
the input gate is tied to it, the output gate and the output squashing are
gone, and the state is the output.

    s^t = U_f h^{t-1} + W_f x^t + b_f
    c̃^t = tanh(U_c h^{t-1} + W_c x^t + b_c)
    c^t = σ(s^t) ⊙ c^{t-1} + (1 - σ(s^t - β)) ⊙ c̃^t
    h^t = c^t

The shift β (1 in the paper) lets slightly more information accumulate than
the coupled gate 1 - σ(s^t) would: when σ(s^t) is close to 1 the input still
gets 1 - σ(s^t - β) > 1 - σ(s^t). Because h^t = c^t, the cell has one state.

The paper initialises the forget bias with the chrono initializer of Tallec
& Ollivier ("Can recurrent neural networks warp time?", ICLR 2018):
b_f ~ log(U[1, T_max - 1]), with T_max the longest dependency expected
(the paper takes the sequence length, e.g. 784 for pixel MNIST), and the
other biases at zero. `chrono_max_length=T_max` does this; as the layer
cannot know the task's T_max, the default (None) leaves b_f to
`bias_initializer` (zeros), which differs from the paper: set
`chrono_max_length` to follow it.

It was designed to show that the forget gate is the LSTM's essential part:
the paper reports that JANET matches or beats the standard LSTM on
pixel-by-pixel MNIST, permuted MNIST and the MIT-BIH arrhythmia data, with
half the LSTM's parameters.

Weights: `kernel` (W) is `(input_dim, 2 * units)` and `recurrent_kernel`
(U) is `(units, 2 * units)`, both with blocks [f, c]; `bias` is
`(2 * units,)`, blocks [f, c]. PyTorch-style implementations (e.g.
torchrecurrent's `JANETCell`) keep `weight_ih = kernel.T` and
`weight_hh = recurrent_kernel.T` with the same blocks, and two biases whose
sum is `bias`. Parameters: 2 (m n + n² + n) for input width m and n units.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class JANETCell(RecurrentCell):
    """Cell of JANET, the forget-gate-only LSTM: one time step.

    Args:
        units: Positive integer, dimensionality of the state h = c.
        beta: Float, the shift β of the input gate 1 - σ(s^t - β) (1.0, as
            in the paper; 0.0 gives the coupled gate 1 - σ(s^t)).
        chrono_max_length: None (default) or an integer T_max >= 2: the
            chrono initialisation b_f ~ log(U[1, T_max - 1]) of the forget
            bias (Tallec & Ollivier 2018), as the paper recommends, with
            T_max the longest dependency of the task (e.g. its sequence
            length). None: b_f comes from `bias_initializer`, like b_c.
        activation: Activation of the candidate c̃ (tanh).
        use_bias: Whether the layer has the biases b_f and b_c.
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

    >>> rnn = keras.layers.RNN(JANETCell(4, chrono_max_length=5))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        beta=1.0,
        chrono_max_length=None,
        activation="tanh",
        use_bias=True,
        **kwargs,
    ):
        if isinstance(beta, bool) or not isinstance(beta, (int, float)):
            raise ValueError(
                f"Argument `beta` must be a number. Received: beta={beta!r}"
            )
        if chrono_max_length is not None and (
            isinstance(chrono_max_length, bool)
            or not isinstance(chrono_max_length, int)
            or chrono_max_length < 2
        ):
            raise ValueError(
                "Argument `chrono_max_length` must be None or an integer "
                f">= 2. Received: chrono_max_length={chrono_max_length!r}"
            )
        super().__init__(units, **kwargs)
        self.beta = float(beta)
        self.chrono_max_length = chrono_max_length
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], 2 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(2 * self.units)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_bias((2 * self.units,), self._bias_initializer())

    def _bias_initializer(self):
        """b_f ~ log(U[1, T_max - 1]) under chrono; b_c as configured."""
        if self.chrono_max_length is None:
            return self.bias_initializer
        uniform = keras.initializers.RandomUniform(
            1.0, float(self.chrono_max_length - 1)
        )

        def initializer(shape, dtype=None):
            b_f = ops.log(uniform((self.units,), dtype=dtype))
            b_c = self.bias_initializer((self.units,), dtype=dtype)
            return ops.concatenate([b_f, b_c])

        return initializer

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        # W x^t + U h^{t-1} + b for both blocks [f, c].
        pre = ops.matmul(x, self.kernel)
        pre = pre + ops.matmul(h_tm1_dropped, self.recurrent_kernel)
        if self.use_bias:
            pre = pre + self.bias
        # s^t = U_f h^{t-1} + W_f x^t + b_f, and the candidate's argument.
        s, pre_c = ops.split(pre, 2, axis=-1)

        # c̃^t = tanh(U_c h^{t-1} + W_c x^t + b_c)
        c_tilde = self.activation(pre_c)
        # c^t = σ(s^t) ⊙ c^{t-1} + (1 - σ(s^t - β)) ⊙ c̃^t, with c^{t-1} = h^{t-1}
        c = (
            self.recurrent_activation(s) * h_tm1
            + (1.0 - self.recurrent_activation(s - self.beta)) * c_tilde
        )
        # h^t = c^t
        return c, [c]

    def get_config(self):
        config = {
            "beta": self.beta,
            "chrono_max_length": self.chrono_max_length,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class JANET(RNN):
    """JANET layer, the forget-gate-only LSTM (van der Westhuizen & Lasenby
    2018).

    Runs `JANETCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        beta: The shift β of the input gate (1.0).
        chrono_max_length: None or T_max >= 2 for the chrono initialisation
            of the forget bias, as the paper recommends (see `JANETCell`).
        **kwargs: Every other argument of `JANETCell` (activation, biases,
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
    >>> tuple(JANET(4, chrono_max_length=10, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = JANETCell
    cell_name = "janet_cell"

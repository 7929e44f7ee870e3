"""Recurrent Highway Network: Zilly et al. 2017.

Julian Georg Zilly, Rupesh Kumar Srivastava, Jan Koutník & Jürgen
Schmidhuber, "Recurrent Highway Networks" (ICML 2017, arXiv:1607.03474).
Each time step is a stack of L highway layers ("recurrence depth" L); the
input x^[t] feeds only the first, and the state passes from the last
micro-layer of one step to the first of the next:

    s_0^[t] = y^[t-1] = s_L^[t-1]
    h_ℓ^[t] = tanh(W_H x^[t] 𝕀{ℓ=1} + R_Hℓ s_{ℓ-1}^[t] + b_Hℓ)   candidate
    t_ℓ^[t] = σ(W_T x^[t] 𝕀{ℓ=1} + R_Tℓ s_{ℓ-1}^[t] + b_Tℓ)      transform gate
    c_ℓ^[t] = σ(W_C x^[t] 𝕀{ℓ=1} + R_Cℓ s_{ℓ-1}^[t] + b_Cℓ)      carry gate
    s_ℓ^[t] = h_ℓ^[t] ⊙ t_ℓ^[t] + s_{ℓ-1}^[t] ⊙ c_ℓ^[t],   ℓ = 1..L
    y^[t] = s_L^[t]

The paper's experiments couple the carry gate, c = 1 - t (as in highway
networks), which is this cell's default (`coupled_carry=True`); with
`coupled_carry=False` c has its own weights. Designed to make the
step-to-step transition deep (the paper's Geršgorin-circle analysis of the
recurrent Jacobian motivates it) while staying trainable; the paper's
language models improve as L grows to 10.

Depth: `depth` defaults to 2, for cost: each step costs L matmuls of the
state, and the paper reports gains at every depth up to its largest, 10
(set `depth=10` for the paper's language-model configuration).

Transform-gate bias: initialised negative (`transform_bias_initializer`,
constant -2 by default), so that every micro-layer starts by mostly
carrying its input, as highway networks recommend (Srivastava et al. 2015);
the RHN experiments also use negative initial transform biases.

Weights: `kernel` W `(input_dim, n * units)` with blocks [H, T] (n = 2),
or [H, T, C] (n = 3) when uncoupled, used by micro-layer 1 only;
`recurrent_kernel` `(depth, units, n * units)`, row ℓ-1 holding
[R_Hℓ | R_Tℓ (| R_Cℓ)]; `bias` `(depth, n * units)`, row ℓ-1 holding
[b_Hℓ | b_Tℓ (| b_Cℓ)].

Dropout: `dropout` drops x^[t]; `recurrent_dropout` drops s_0^[t] = y^[t-1]
where it enters the first micro-layer's R (one mask per sequence; the
carry path s_0 ⊙ c is not dropped). The paper applies variational dropout
(Gal & Ghahramani) to its language models; deeper micro-layers are not
dropped here.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell, check_positive_int


@keras.saving.register_keras_serializable(package="zoo")
class RHNCell(RecurrentCell):
    """Cell of the Recurrent Highway Network: one time step of L layers.

    Args:
        units: Positive integer, dimensionality of the state s.
        depth: Positive integer, the recurrence depth L (default 2; the
            paper goes to 10).
        coupled_carry: True (default, the paper's experiments): c = 1 - t.
            False: the carry gate c has its own weights.
        activation: Activation of the candidate h (tanh).
        use_bias: Whether the layer has biases.
        transform_bias_initializer: Initializer of the transform gates'
            biases b_Tℓ; None means constant -2 (start by carrying).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the gates, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer` (b_H, b_C), regularizers and constraints,
            `dropout`, `recurrent_dropout`, `seed`; and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x^[t].
        states: `[y^[t-1]]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(RHNCell(4, depth=3))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        depth=2,
        coupled_carry=True,
        activation="tanh",
        use_bias=True,
        transform_bias_initializer=None,
        **kwargs,
    ):
        check_positive_int("depth", depth)
        if not isinstance(coupled_carry, bool):
            raise ValueError(
                "Argument `coupled_carry` must be True or False. "
                f"Received: coupled_carry={coupled_carry!r}"
            )
        super().__init__(units, **kwargs)
        self.depth = depth
        self.coupled_carry = coupled_carry
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.transform_bias_initializer = keras.initializers.get(
            transform_bias_initializer
            if transform_bias_initializer is not None
            else keras.initializers.Constant(-2.0)
        )
        self.state_size = [units]

    @property
    def blocks(self):
        """n, the number of blocks per micro-layer: [H, T] or [H, T, C]."""
        return 2 if self.coupled_carry else 3

    def build(self, input_shape):
        super().build(input_shape)
        n, u = self.blocks, self.units
        self.kernel = self.add_kernel(input_shape[-1], n * u)
        self.recurrent_kernel = self.add_weight(
            shape=(self.depth, u, n * u),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:

            def bias_initializer(shape, dtype=None):
                # [b_H | b_T (| b_C)] in every row; b_T from its own initializer.
                depth = shape[0]
                return ops.concatenate(
                    [
                        self.bias_initializer((depth, u), dtype=dtype),
                        self.transform_bias_initializer((depth, u), dtype=dtype),
                        *[self.bias_initializer((depth, u), dtype=dtype)] * (n - 2),
                    ],
                    axis=-1,
                )

            self.bias = self.add_bias((self.depth, n * u), initializer=bias_initializer)
        else:
            self.bias = None

    def call(self, inputs, states, training=False):
        s_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, s_dropped = self.dropped_inputs(inputs, s_prev, training)
        # W x^[t], the input's contribution to micro-layer 1 only.
        x_proj = ops.matmul(x, self.kernel)
        for layer in range(self.depth):
            pre = ops.matmul(s_dropped, self.recurrent_kernel[layer])
            if layer == 0:
                pre = pre + x_proj
            if self.use_bias:
                pre = pre + self.bias[layer]
            blocks = ops.split(pre, self.blocks, axis=-1)
            # h_ℓ = tanh(W_H x 𝕀{ℓ=1} + R_Hℓ s_{ℓ-1} + b_Hℓ)
            h = self.activation(blocks[0])
            # t_ℓ = σ(W_T x 𝕀{ℓ=1} + R_Tℓ s_{ℓ-1} + b_Tℓ)
            t = self.recurrent_activation(blocks[1])
            if self.coupled_carry:
                c = 1.0 - t  # c_ℓ = 1 - t_ℓ
            else:
                # c_ℓ = σ(W_C x 𝕀{ℓ=1} + R_Cℓ s_{ℓ-1} + b_Cℓ)
                c = self.recurrent_activation(blocks[2])
            # s_ℓ = h_ℓ ⊙ t_ℓ + s_{ℓ-1} ⊙ c_ℓ
            s_prev = h * t + s_prev * c
            s_dropped = s_prev
        # y^[t] = s_L^[t]
        return s_prev, [s_prev]

    def get_config(self):
        config = {
            "depth": self.depth,
            "coupled_carry": self.coupled_carry,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "transform_bias_initializer": keras.initializers.serialize(
                self.transform_bias_initializer
            ),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class RHN(RNN):
    """Recurrent Highway Network layer (Zilly et al. 2017).

    Runs `RHNCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        depth: The recurrence depth L (2; the paper's language models use
            up to 10).
        coupled_carry: c = 1 - t (True, default) or a separate carry gate.
        **kwargs: Every other argument of `RHNCell` (activation, use_bias,
            transform_bias_initializer, initializers, regularizers,
            constraints, dropout, seed), of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`), and of a Keras layer (`name`,
            `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[y]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(RHN(4, depth=3, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = RHNCell
    cell_name = "rhn_cell"

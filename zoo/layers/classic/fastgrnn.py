"""FastRNN and FastGRNN: Kusupati et al. 2018.

Aditya Kusupati, Manish Singh, Kush Bhatia, Ashish Kumar, Prateek Jain &
Manik Varma, "FastGRNN: A Fast, Accurate, Stable and Tiny Kilobyte Sized
Gated Recurrent Neural Network" (NeurIPS 2018, arXiv:1901.02358). Two cells
designed for tiny devices (microcontrollers with a few KB of memory), whose
extra parameters are a handful of scalars.

FastRNN adds a weighted residual connection to a plain RNN, with two
trainable scalars α and β:

    h̃_t = tanh(W x_t + U h_{t-1} + b)
    h_t = α h̃_t + β h_{t-1}

The paper shows that with α small and β ≈ 1 - α its gradients neither
vanish nor explode, with a stable training guarantee.

FastGRNN turns the residual into a gate that *shares* W and U with the
candidate (only the biases differ), plus two scalars ζ and ν:

    z_t = σ(W x_t + U h_{t-1} + b_z)
    h̃_t = tanh(W x_t + U h_{t-1} + b_h)
    h_t = (ζ (1 - z_t) + ν) ⊙ h̃_t + z_t ⊙ h_{t-1}

so a gate costs one more bias vector, not another pair of matrices.

As in the authors' code (Microsoft EdgeML, `FastRNNCell` and
`FastGRNNCell`), the scalars are sigmoid-parametrised to stay in (0, 1):
α = σ(a), β = σ(b), ζ = σ(c_ζ), ν = σ(c_ν), with the raw a, b, c_ζ, c_ν the
trainable weights `alpha`, `beta`, `zeta`, `nu`, initialised to -3, 3, 1
and -4 (EdgeML's `alphaInit`, `betaInit`, `zetaInit`, `nuInit`), and the
biases initialised to ones, as there.

The paper also makes W and U low-rank (W = W¹ W², U = U¹ U²) and sparse,
and quantises them, to reach kilobyte sizes. The zoo includes the low rank
(arguments `w_rank`, `u_rank`), which changes the weights; sparsity (the
paper's iterative hard thresholding during training) and byte quantisation
are training and deployment procedures, not part of the cell, and are not
included.

Weights (Keras convention, `x @ W`, the same orientation as EdgeML's `W` and
`U`): `kernel` `(input_dim, units)`, W, or with `w_rank=r` `kernel_1`
`(input_dim, r)` and `kernel_2` `(r, units)`, W¹ and W² (EdgeML's `W1`,
`W2`); `recurrent_kernel` `(units, units)`, U, or with `u_rank=r`
`recurrent_kernel_1` `(units, r)` and `recurrent_kernel_2` `(r, units)`;
then for FastRNN `bias` `(units,)` (EdgeML's `bias_update`), `alpha` and
`beta` `(1,)`; for FastGRNN `bias` `(2 * units,)` with blocks [z, h̃]
(EdgeML's `bias_gate`, `bias_update`), `zeta` and `nu` `(1,)`.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


def check_rank(name, value):
    """A low rank is None (full rank) or a positive integer."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be None (full rank) or a positive "
            f"integer. Received: {name}={value!r}"
        )


def check_number(name, value):
    """A scalar's initial value is a real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Argument `{name}` must be a number. Received: {name}={value!r}"
        )


class _FastCell(RecurrentCell):
    """What FastRNN and FastGRNN share: W x_t and U h_{t-1}, full or low-rank."""

    def __init__(self, units, w_rank=None, u_rank=None, **kwargs):
        check_rank("w_rank", w_rank)
        check_rank("u_rank", u_rank)
        super().__init__(units, **kwargs)
        self.w_rank = w_rank
        self.u_rank = u_rank
        self.state_size = [units]

    def build_matrices(self, input_dim):
        """W: `kernel` or `kernel_1` W¹ · `kernel_2` W²; U likewise."""
        if self.w_rank is None:
            self.kernel = self.add_kernel(input_dim, self.units)
        else:
            self.kernel_1 = self._input_weight("kernel_1", input_dim, self.w_rank)
            self.kernel_2 = self._input_weight("kernel_2", self.w_rank, self.units)
        if self.u_rank is None:
            self.recurrent_kernel = self.add_recurrent_kernel(self.units)
        else:
            self.recurrent_kernel_1 = self.add_recurrent_kernel(
                self.u_rank, name="recurrent_kernel_1"
            )
            self.recurrent_kernel_2 = self.add_recurrent_kernel(
                self.units, name="recurrent_kernel_2", rows=self.u_rank
            )

    def _input_weight(self, name, rows, columns):
        return self.add_weight(
            shape=(rows, columns),
            name=name,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def add_scalar(self, name, value):
        """A trainable scalar, the raw parameter of σ(·)."""
        return self.add_weight(
            shape=(1,), name=name, initializer=keras.initializers.Constant(value)
        )

    def w_x(self, x):
        """W x_t, with W = W¹ W² at low rank."""
        if self.w_rank is None:
            return ops.matmul(x, self.kernel)
        return ops.matmul(ops.matmul(x, self.kernel_1), self.kernel_2)

    def u_h(self, h):
        """U h_{t-1}, with U = U¹ U² at low rank."""
        if self.u_rank is None:
            return ops.matmul(h, self.recurrent_kernel)
        return ops.matmul(
            ops.matmul(h, self.recurrent_kernel_1), self.recurrent_kernel_2
        )

    def get_config(self):
        config = {"w_rank": self.w_rank, "u_rank": self.u_rank}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class FastRNNCell(_FastCell):
    """Cell of FastRNN: one time step.

    Args:
        units: Positive integer, dimensionality of h_t.
        activation: The squashing of h̃_t (tanh, as in the paper's code).
        use_bias: Whether h̃_t has the bias b.
        w_rank: None (default) for a full W, or a positive integer r for
            W = W¹ W² of rank r.
        u_rank: Likewise for U.
        alpha_init: Initial raw α (α = σ(alpha_init); -3 as EdgeML).
        beta_init: Initial raw β (β = σ(beta_init); 3 as EdgeML).
        bias_initializer: Initializer of b (ones, as EdgeML).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `kernel_initializer` (W or W¹, W²), `recurrent_initializer` (U
            or U¹, U²), the regularizers and constraints of W, U and b,
            `dropout` (on x_t), `recurrent_dropout` (on h_{t-1} as U reads
            it), `seed`; and Keras's layer arguments. `recurrent_activation`
            is accepted and unused (FastRNN has no gate).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(FastRNNCell(4, w_rank=2))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        w_rank=None,
        u_rank=None,
        alpha_init=-3.0,
        beta_init=3.0,
        bias_initializer="ones",
        **kwargs,
    ):
        check_number("alpha_init", alpha_init)
        check_number("beta_init", beta_init)
        super().__init__(
            units,
            w_rank=w_rank,
            u_rank=u_rank,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.alpha_init = float(alpha_init)
        self.beta_init = float(beta_init)

    def build(self, input_shape):
        super().build(input_shape)
        self.build_matrices(input_shape[-1])
        self.bias = self.add_bias((self.units,)) if self.use_bias else None
        self.alpha = self.add_scalar("alpha", self.alpha_init)
        self.beta = self.add_scalar("beta", self.beta_init)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        pre = self.w_x(x) + self.u_h(h_tm1_dropped)
        if self.use_bias:
            pre = pre + self.bias
        # h̃_t = tanh(W x_t + U h_{t-1} + b)
        h_tilde = self.activation(pre)
        # α = σ(a), β = σ(b)
        alpha = ops.sigmoid(self.alpha)
        beta = ops.sigmoid(self.beta)
        # h_t = α h̃_t + β h_{t-1}
        h = alpha * h_tilde + beta * h_tm1
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "alpha_init": self.alpha_init,
            "beta_init": self.beta_init,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class FastGRNNCell(_FastCell):
    """Cell of FastGRNN: one time step.

    Args:
        units: Positive integer, dimensionality of h_t.
        activation: The squashing of h̃_t (tanh).
        use_bias: Whether z_t and h̃_t have the biases b_z and b_h.
        w_rank: None (default) for a full W, or a positive integer r for
            W = W¹ W² of rank r (shared by gate and candidate).
        u_rank: Likewise for U.
        zeta_init: Initial raw ζ (ζ = σ(zeta_init); 1 as EdgeML).
        nu_init: Initial raw ν (ν = σ(nu_init); -4 as EdgeML).
        bias_initializer: Initializer of b_z and b_h (ones, as EdgeML).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the gate, sigmoid),
            `kernel_initializer` (W or W¹, W²), `recurrent_initializer` (U
            or U¹, U²), the regularizers and constraints of W, U and the
            biases, `dropout` (on x_t), `recurrent_dropout` (on h_{t-1} as U
            reads it), `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(FastGRNNCell(4, w_rank=2, u_rank=2))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        w_rank=None,
        u_rank=None,
        zeta_init=1.0,
        nu_init=-4.0,
        bias_initializer="ones",
        **kwargs,
    ):
        check_number("zeta_init", zeta_init)
        check_number("nu_init", nu_init)
        super().__init__(
            units,
            w_rank=w_rank,
            u_rank=u_rank,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.zeta_init = float(zeta_init)
        self.nu_init = float(nu_init)

    def build(self, input_shape):
        super().build(input_shape)
        self.build_matrices(input_shape[-1])
        self.bias = self.add_bias((2 * self.units,)) if self.use_bias else None
        self.zeta = self.add_scalar("zeta", self.zeta_init)
        self.nu = self.add_scalar("nu", self.nu_init)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)

        # W x_t + U h_{t-1}, computed once for the gate and the candidate.
        shared = self.w_x(x) + self.u_h(h_tm1_dropped)
        pre_z, pre_h = shared, shared
        if self.use_bias:
            b_z, b_h = ops.split(self.bias, 2)
            pre_z, pre_h = shared + b_z, shared + b_h
        # z_t = σ(W x_t + U h_{t-1} + b_z)
        z = self.recurrent_activation(pre_z)
        # h̃_t = tanh(W x_t + U h_{t-1} + b_h)
        h_tilde = self.activation(pre_h)
        # ζ = σ(c_ζ), ν = σ(c_ν)
        zeta = ops.sigmoid(self.zeta)
        nu = ops.sigmoid(self.nu)
        # h_t = (ζ (1 - z_t) + ν) ⊙ h̃_t + z_t ⊙ h_{t-1}
        h = (zeta * (1.0 - z) + nu) * h_tilde + z * h_tm1
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "zeta_init": self.zeta_init,
            "nu_init": self.nu_init,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class FastRNN(RNN):
    """FastRNN layer (Kusupati et al. 2018).

    Runs `FastRNNCell` over a sequence: a plain RNN with a residual
    connection weighted by two trainable scalars.

    Args:
        units: Positive integer, dimensionality of the state.
        w_rank, u_rank: Optional low ranks of W and U (None: full rank).
        **kwargs: Every other argument of `FastRNNCell` (activation, the
            initial α and β, biases, initializers, regularizers,
            constraints, dropout, seed), of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`), and of a Keras layer
            (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(FastRNN(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = FastRNNCell
    cell_name = "fast_rnn_cell"


@keras.saving.register_keras_serializable(package="zoo")
class FastGRNN(RNN):
    """FastGRNN layer (Kusupati et al. 2018).

    Runs `FastGRNNCell` over a sequence: a gated RNN whose gate and
    candidate share W and U, with two trainable scalars ζ and ν.

    Args:
        units: Positive integer, dimensionality of the state.
        w_rank, u_rank: Optional low ranks of W and U (None: full rank).
        **kwargs: Every other argument of `FastGRNNCell` (activation, the
            initial ζ and ν, biases, initializers, regularizers,
            constraints, dropout, seed), of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`), and of a Keras layer
            (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(FastGRNN(4, w_rank=2, u_rank=2)(x).shape)
    (8, 4)
    """

    cell_class = FastGRNNCell
    cell_name = "fast_grnn_cell"

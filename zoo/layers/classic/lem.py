"""LEM: the Long Expressive Memory.

Rusch, Mishra, Erichson & Mahoney, "Long Expressive Memory for Sequence
Modeling" (ICLR 2022, arXiv:2110.04744). Designed for very long-range
dependencies: LEM discretises a multiscale system of ODEs in which y and
z relax towards σ(W_y z + V_y u + b_y) and σ(W_z y + V_z u + b_z) at
learned, input-dependent rates. The paper proves bounds showing that LEM
mitigates exploding and vanishing gradients, and that it can approximate a
large class of multiscale dynamical systems. Eq. (3) of the paper, with
inputs u_n, states (y_n, z_n), the time step Δt (a hyperparameter), σ̂ the
logistic sigmoid and σ = tanh:

    Δt_n = Δt σ̂(W_1 y_{n-1} + V_1 u_n + b_1)
    Δ̄t_n = Δt σ̂(W_2 y_{n-1} + V_2 u_n + b_2)
    z_n = (1 - Δt_n) ⊙ z_{n-1} + Δt_n ⊙ σ(W_z y_{n-1} + V_z u_n + b_z)
    y_n = (1 - Δ̄t_n) ⊙ y_{n-1} + Δ̄t_n ⊙ σ(W_y z_n + V_y u_n + b_y)

Δt_n and Δ̄t_n are the learned time steps of z and y; y_n, which reads the
freshly updated z_n, is the output. The authors' code defaults to Δt = 1
(`dt=1.0` here) and tunes it per task.

Weights, in the paper's order (each block `units` wide):
`kernel` (features, 4u) [V_1, V_2, V_z, V_y], `recurrent_kernel` (u, 3u)
[W_1, W_2, W_z] (acting on y_{n-1}), `z_kernel` (u, u) W_y (acting on z_n),
`bias` (4u,) [b_1, b_2, b_z, b_y]. Matrices act on the right of a row vector
(u_n V), as in Keras. The states are `[y, z]`.

Porting from the authors' PyTorch code (tk-rusch/LEM, `LEMCell`): its
`inp2hid` (4 chunks i_dt1, i_dt2, i_z, i_y), `hid2hid` (3 chunks h_dt1,
h_dt2, h_y) and `transform_z` are `(out, in)` matrices with biases of their
own. Its z update uses chunk 2 (ms_dt) and i_y/h_y, its y update chunk 1
(ms_dt_bar), transform_z and i_z; so, transposing each matrix:
V_1 = i_dt2, V_2 = i_dt1, V_z = i_y, V_y = i_z; W_1 = h_dt2, W_2 = h_dt1,
W_z = h_y; W_y = transform_z; and each b is the sum of the biases that enter
the same sum (b_1 = inp2hid's dt2 bias + hid2hid's dt2 bias, b_y = inp2hid's
i_z bias + transform_z's bias, and so on). The zoo keeps the paper's single
bias per block: two biases added to one sum are one parameter.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class LEMCell(RecurrentCell):
    """Cell of the Long Expressive Memory (Rusch et al. 2022): one step.

    Args:
        units: Positive integer, dimensionality of the states y and z.
        dt: Positive float, the time step Δt that scales both learned time
            steps (1.0, the default of the authors' code).
        use_bias: Whether the cell has the biases b_1, b_2, b_z, b_y.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ̂ of the time steps, sigmoid),
            `kernel_initializer` (V), `recurrent_initializer` (W_1, W_2,
            W_z and W_y), `bias_initializer`, their regularizers and
            constraints, `dropout` (of u_n), `recurrent_dropout` (of y_{n-1}
            where it enters a matrix product), `seed`; and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, u_n.
        states: `[y_{n-1}, z_{n-1}]`, each `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(LEMCell(4, dt=0.5))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    state_names = ["y", "z"]  # what `step` reports

    def __init__(self, units, dt=1.0, use_bias=True, **kwargs):
        is_number = isinstance(dt, (int, float)) and not isinstance(dt, bool)
        if not is_number or not dt > 0:
            raise ValueError(
                "Argument `dt` must be a positive float. "
                f"Received: dt={dt!r}"
            )
        if not isinstance(use_bias, bool):
            raise ValueError(
                "Argument `use_bias` must be True or False. "
                f"Received: use_bias={use_bias!r}"
            )
        super().__init__(units, **kwargs)
        self.dt = float(dt)
        self.use_bias = use_bias
        self.state_size = [units, units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], 4 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(3 * self.units)
        self.z_kernel = self.add_recurrent_kernel(self.units, name="z_kernel")
        self.bias = self.add_bias((4 * self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        y_tm1, z_tm1 = states
        u_n, y_tm1_dropped = self.dropped_inputs(inputs, y_tm1, training)
        sigma_hat, sigma, dt = self.recurrent_activation, ops.tanh, self.dt

        inputs_proj = ops.matmul(u_n, self.kernel)
        if self.use_bias:
            inputs_proj = inputs_proj + self.bias
        # The four input sums V_k u_n + b_k and the three W_k y_{n-1}.
        V1u, V2u, Vzu, Vyu = ops.split(inputs_proj, 4, axis=-1)
        W1y, W2y, Wzy = ops.split(
            ops.matmul(y_tm1_dropped, self.recurrent_kernel), 3, axis=-1
        )

        # Δt_n = Δt σ̂(W_1 y_{n-1} + V_1 u_n + b_1)
        dt_n = dt * sigma_hat(W1y + V1u)
        # Δ̄t_n = Δt σ̂(W_2 y_{n-1} + V_2 u_n + b_2)
        dt_bar_n = dt * sigma_hat(W2y + V2u)
        # z_n = (1 - Δt_n) ⊙ z_{n-1} + Δt_n ⊙ σ(W_z y_{n-1} + V_z u_n + b_z)
        z = (1.0 - dt_n) * z_tm1 + dt_n * sigma(Wzy + Vzu)
        # y_n = (1 - Δ̄t_n) ⊙ y_{n-1} + Δ̄t_n ⊙ σ(W_y z_n + V_y u_n + b_y)
        Wyz = ops.matmul(z, self.z_kernel)
        y = (1.0 - dt_bar_n) * y_tm1 + dt_bar_n * sigma(Wyz + Vyu)
        return y, [y, z]

    def get_config(self):
        config = {"dt": self.dt, "use_bias": self.use_bias}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class LEM(RNN):
    """Long Expressive Memory layer (Rusch et al. 2022).

    Runs `LEMCell` over a sequence; the output is y.

    Args:
        units: Positive integer, dimensionality of the states.
        dt: Positive float, the time step Δt (1.0).
        **kwargs: Every other argument of `LEMCell` (`use_bias`,
            initializers, regularizers, constraints, dropout, seed), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[y, z]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> outputs, y, z = LEM(4, return_sequences=True, return_state=True)(x)
    >>> tuple(outputs.shape), tuple(z.shape)
    ((8, 10, 4), (8, 4))
    """

    cell_class = LEMCell
    cell_name = "lem_cell"

    @property
    def dt(self):
        return self.cell.dt

"""Coupled oscillatory RNN (coRNN): Rusch & Mishra 2021.

T. Konstantin Rusch & Siddhartha Mishra, "Coupled Oscillatory Recurrent
Neural Network (coRNN): An accurate and (gradient) stable architecture for
learning long time dependencies" (ICLR 2021, arXiv:2010.00951). The hidden
units are a network of controlled, forced and damped nonlinear oscillators,

    y'' = σ(W y + 𝒲 y' + V u + b) - γ y - ε y',

written as a first-order system in the position y and the velocity z = y'
and discretised with step Δt by an implicit-explicit (IMEX) scheme, which
the paper proves keeps the hidden states bounded and the gradients of the
loss neither exploding nor vanishing (bounds independent of the sequence
length):

    z_n = z_{n-1} + Δt (σ(W y_{n-1} + 𝒲 z_{n-1} + V u_n + b)
                        - γ y_{n-1} - ε z_{n-1})
    y_n = y_{n-1} + Δt z_n

with σ = tanh. The output is y_n; the states are [y, z]. This is the update
the authors' code (tk-rusch/coRNN) computes: the velocity is updated first
and the position then moves with the *new* velocity z_n (the implicit half
of the scheme).

Δt, γ and ε are the arguments `dt`, `gamma`, `epsilon` (fixed
hyperparameters, not trained). Their defaults, Δt = 0.042, γ = 2.7,
ε = 4.7, are those of the authors' code for sequential MNIST
(`sMNIST/sMNIST_task.py`, with 256 units); the paper tunes them per task
(e.g. the same code uses Δt = 0.076, γ = 0.4, ε = 8.0 for permuted
sequential MNIST).

Weights (Keras convention, `x @ W`): `kernel` `(input_dim, units)`, V;
`recurrent_kernel` `(units, units)`, W (on y); `velocity_kernel`
`(units, units)`, 𝒲 (on z); `bias` `(units,)`, b. The authors' single
`i2h = nn.Linear(n_inp + 2 n_hid, n_hid)` reads `cat(u, z, y)`: port
`i2h.weight.T` rows `[:n_inp]` to `kernel`, `[n_inp:n_inp + n_hid]` to
`velocity_kernel`, `[n_inp + n_hid:]` to `recurrent_kernel`, and
`i2h.bias` to `bias`. Initialisers are Keras's defaults (glorot_uniform,
orthogonal, zeros), not PyTorch's `nn.Linear` initialisation.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


def check_positive_number(name, value):
    """Raises `ValueError` unless `value` is a number > 0."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (is_number and value > 0):
        raise ValueError(
            f"Argument `{name}` must be a positive number. "
            f"Received: {name}={value!r}"
        )


def check_non_negative_number(name, value):
    """Raises `ValueError` unless `value` is a number >= 0."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (is_number and value >= 0):
        raise ValueError(
            f"Argument `{name}` must be a non-negative number. "
            f"Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="zoo")
class CoRNNCell(RecurrentCell):
    """Cell of the coRNN: one IMEX step of the coupled oscillators.

    Args:
        units: Positive integer, number of oscillators (size of y and z).
        dt: Δt > 0, the time step (0.042).
        gamma: γ >= 0, the control (stiffness) on y (2.7).
        epsilon: ε >= 0, the damping on z (4.7).
        activation: σ (tanh).
        use_bias: Whether the cell has the bias b.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `kernel_initializer` (V), `recurrent_initializer` (W and 𝒲),
            `bias_initializer` (b), their regularizers and constraints,
            `dropout` (on u_n), `recurrent_dropout` (on y_{n-1} as W reads
            it; z and the oscillator terms are never dropped), `seed`; and
            Keras's layer arguments. `recurrent_activation` is accepted and
            unused (coRNN has no gate).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, u_n.
        states: `[y_{n-1}, z_{n-1}]`, each `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(CoRNNCell(4, dt=0.076, gamma=0.4, epsilon=8.0))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    state_names = ["y", "z"]  # what `step` reports

    def __init__(
        self,
        units,
        dt=0.042,
        gamma=2.7,
        epsilon=4.7,
        activation="tanh",
        use_bias=True,
        **kwargs,
    ):
        check_positive_number("dt", dt)
        check_non_negative_number("gamma", gamma)
        check_non_negative_number("epsilon", epsilon)
        super().__init__(units, **kwargs)
        self.dt = float(dt)
        self.gamma = float(gamma)
        self.epsilon = float(epsilon)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.state_size = [units, units]  # [y, z]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(self.units)
        self.velocity_kernel = self.add_recurrent_kernel(
            self.units, name="velocity_kernel"
        )
        self.bias = self.add_bias((self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        y_tm1, z_tm1 = states[0], states[1]
        u, y_tm1_dropped = self.dropped_inputs(inputs, y_tm1, training)
        dt = self.dt

        # W y_{n-1} + 𝒲 z_{n-1} + V u_n + b
        pre = (
            ops.matmul(y_tm1_dropped, self.recurrent_kernel)
            + ops.matmul(z_tm1, self.velocity_kernel)
            + ops.matmul(u, self.kernel)
        )
        if self.use_bias:
            pre = pre + self.bias
        # z_n = z_{n-1} + Δt (σ(W y_{n-1} + 𝒲 z_{n-1} + V u_n + b)
        #                     - γ y_{n-1} - ε z_{n-1})
        z = z_tm1 + dt * (
            self.activation(pre) - self.gamma * y_tm1 - self.epsilon * z_tm1
        )
        # y_n = y_{n-1} + Δt z_n
        y = y_tm1 + dt * z
        return y, [y, z]

    def get_config(self):
        config = {
            "dt": self.dt,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class CoRNN(RNN):
    """Coupled oscillatory RNN layer (Rusch & Mishra 2021).

    Runs `CoRNNCell` over a sequence and outputs the oscillators' positions
    y (the velocities z are the second state).

    Args:
        units: Positive integer, number of oscillators.
        dt, gamma, epsilon: Δt, γ, ε of the IMEX scheme (defaults 0.042,
            2.7, 4.7: the authors' sequential-MNIST setting).
        **kwargs: Every other argument of `CoRNNCell` (activation, biases,
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
    >>> outputs, y, z = CoRNN(4, return_sequences=True, return_state=True)(x)
    >>> [tuple(t.shape) for t in (outputs, y, z)]
    [(8, 10, 4), (8, 4), (8, 4)]
    """

    cell_class = CoRNNCell
    cell_name = "cornn_cell"

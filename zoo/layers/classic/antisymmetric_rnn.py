"""AntisymmetricRNN: Chang, Chen, Haber & Chi 2019.

Bo Chang, Minmin Chen, Eldad Haber & Ed H. Chi, "AntisymmetricRNN: A
Dynamical System View on Recurrent Neural Networks" (ICLR 2019,
arXiv:1902.09689). The RNN as the forward-Euler discretisation, with step
size ε, of the ODE h'(t) = tanh(W_h h(t) + V_h x(t) + b_h). When W_h is
antisymmetric its Jacobian has purely imaginary eigenvalues, so the ODE
neither forgets (decays) nor explodes, and the network can carry
information over long sequences. Forward Euler is stable only if the
eigenvalues move slightly into the left half-plane, which the diffusion γ
does:

    h_t = h_{t-1} + ε tanh((W_h - W_hᵀ - γ I) h_{t-1} + V_h x_t + b_h)

The gated variant adds an input gate z_t, for inputs the state should
ignore; the gate shares the same antisymmetric matrix, so that the
eigenvalue argument still holds:

    z_t = σ((W_h - W_hᵀ - γ I) h_{t-1} + V_z x_t + b_z)
    h_t = h_{t-1} + ε z_t ⊙ tanh((W_h - W_hᵀ - γ I) h_{t-1} + V_h x_t + b_h)

The paper reports both variants side by side on pixel-by-pixel MNIST,
permuted MNIST, CIFAR-10 and noise-padded CIFAR-10. The zoo defaults to
`gated=True`, the most complete cell the paper proposes (it adds only V_z
and b_z); `gated=False` is the plain cell. `step_size` is ε and
`diffusion` is γ; both default to 0.01, the smallest step of the paper's
search grid (ε in {0.01, 0.1, 1}; the paper tunes ε and γ per task).

Initialisation follows the paper's Appendix C: V ~ N(0, 1/m) for m inputs,
W_h ~ N(0, σ_w²/n) for n units (σ_w = 1 here; the paper searches σ_w in
{0, 1, 2, 4, 8, 16}: pass `recurrent_initializer=VarianceScaling(σ_w²,
"fan_in", "untruncated_normal")`), biases zero.

Weights (Keras convention, `x @ W`): `kernel` `(input_dim, units)`, V_h, or
`(input_dim, 2 * units)` with blocks [h, z] (V_h, V_z) when gated;
`recurrent_kernel` `(units, units)`, which is W_hᵀ, stored transposed like
every Keras kernel, so that `h @ (K - Kᵀ) = ((W_h - W_hᵀ) h)ᵀ` for
`K = recurrent_kernel`: port a column-vector W_h (the paper's, PyTorch's
`weight`) as its transpose. `bias` `(units,)`, b_h, or `(2 * units,)` with
blocks [h, z] when gated. Only the antisymmetric part of W_h enters the
cell (its symmetric part has zero gradient), so of its n² entries
n (n - 1) / 2 are effective parameters.
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


def _normal_fan_in():
    """N(0, 1/fan_in): V ~ N(0, 1/m) and W_h ~ N(0, 1/n) (Appendix C)."""
    return keras.initializers.VarianceScaling(
        scale=1.0, mode="fan_in", distribution="untruncated_normal"
    )


@keras.saving.register_keras_serializable(package="zoo")
class AntisymmetricRNNCell(RecurrentCell):
    """Cell of the AntisymmetricRNN: one forward-Euler step.

    Args:
        units: Positive integer, dimensionality of h_t.
        gated: True (default) for the gated cell with input gate z_t, False
            for the plain antisymmetric cell.
        step_size: ε > 0, the Euler step (0.01).
        diffusion: γ >= 0, the diffusion that moves the eigenvalues of the
            recurrent matrix into the left half-plane (0.01).
        activation: The squashing inside the step (tanh).
        use_bias: Whether the cell has b_h (and b_z).
        kernel_initializer: Initializer of V (N(0, 1/m), Appendix C).
        recurrent_initializer: Initializer of W_h (N(0, 1/n), Appendix C
            with σ_w = 1).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the gate, sigmoid),
            `bias_initializer` (zeros), the regularizers and constraints,
            `dropout` (on x_t), `recurrent_dropout` (on h_{t-1} as the
            matrix reads it; the Euler residual h_{t-1} itself is never
            dropped), `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(AntisymmetricRNNCell(4, gated=False))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        gated=True,
        step_size=0.01,
        diffusion=0.01,
        activation="tanh",
        use_bias=True,
        kernel_initializer=None,
        recurrent_initializer=None,
        **kwargs,
    ):
        if not isinstance(gated, bool):
            raise ValueError(
                "Argument `gated` must be True or False. "
                f"Received: gated={gated!r}"
            )
        check_positive_number("step_size", step_size)
        check_non_negative_number("diffusion", diffusion)
        super().__init__(
            units,
            kernel_initializer=kernel_initializer or _normal_fan_in(),
            recurrent_initializer=recurrent_initializer or _normal_fan_in(),
            **kwargs,
        )
        self.gated = gated
        self.step_size = float(step_size)
        self.diffusion = float(diffusion)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        blocks = 2 if self.gated else 1
        self.kernel = self.add_kernel(input_shape[-1], blocks * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(self.units)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_bias((blocks * self.units,))

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)
        eps, gamma = self.step_size, self.diffusion

        # (W_h - W_hᵀ - γ I) h_{t-1}, with K = W_hᵀ: h (K - Kᵀ) - γ h.
        K = self.recurrent_kernel
        antisymmetric = ops.matmul(h_tm1_dropped, K - ops.transpose(K))
        recurrent = antisymmetric - gamma * h_tm1_dropped
        # V x_t + b for the blocks [h, z].
        x_proj = ops.matmul(x, self.kernel)
        if self.use_bias:
            x_proj = x_proj + self.bias

        if not self.gated:
            # h_t = h_{t-1} + ε tanh((W_h - W_hᵀ - γI) h_{t-1} + V_h x_t + b_h)
            h = h_tm1 + eps * self.activation(recurrent + x_proj)
            return h, [h]
        x_h, x_z = ops.split(x_proj, 2, axis=-1)
        # z_t = σ((W_h - W_hᵀ - γI) h_{t-1} + V_z x_t + b_z)
        z = self.recurrent_activation(recurrent + x_z)
        # h_t = h_{t-1} + ε z_t ⊙ tanh((W_h - W_hᵀ - γI) h_{t-1} + V_h x_t + b_h)
        h = h_tm1 + eps * z * self.activation(recurrent + x_h)
        return h, [h]

    def get_config(self):
        config = {
            "gated": self.gated,
            "step_size": self.step_size,
            "diffusion": self.diffusion,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class AntisymmetricRNN(RNN):
    """AntisymmetricRNN layer (Chang, Chen, Haber & Chi 2019).

    Runs `AntisymmetricRNNCell` over a sequence: forward-Euler steps of an
    ODE whose recurrent matrix is antisymmetric (minus a small diffusion),
    so that its state neither decays nor explodes.

    Args:
        units: Positive integer, dimensionality of the state.
        gated: Whether the cell has the input gate z_t (True by default).
        step_size: ε, the Euler step (0.01).
        diffusion: γ, the diffusion (0.01).
        **kwargs: Every other argument of `AntisymmetricRNNCell`
            (activation, biases, initializers, regularizers, constraints,
            dropout, seed), of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`,
            `zero_output_for_mask`), and of a Keras layer (`name`, `dtype`,
            `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> layer = AntisymmetricRNN(4, step_size=0.1, diffusion=0.001,
    ...                          return_sequences=True)
    >>> tuple(layer(x).shape)
    (8, 10, 4)
    """

    cell_class = AntisymmetricRNNCell
    cell_name = "antisymmetric_rnn_cell"

"""Independently Recurrent Neural Network: Li et al. 2018.

Shuai Li, Wanqing Li, Chris Cook, Ce Zhu & Yanbo Gao, "Independently
Recurrent Neural Network (IndRNN): Building A Longer and Deeper RNN" (CVPR
2018, arXiv:1803.04831). Each neuron sees only its own past state, through
one recurrent weight u_n:

    h_t = σ(W x_t + u ⊙ h_{t-1} + b)

with σ = ReLU. Neurons of one layer are independent in time; they interact
through the next layer's W. Designed for very long sequences (the adding
problem to 5000 steps, pixel MNIST) and very deep stacks of RNN layers (with
ReLU, batch normalisation and residual connections between layers).

Long-term memory (the paper's gradient analysis): the gradient through T
steps of neuron n is ∏ u_n σ'(·), so with ReLU it behaves as u_n^T. The
paper bounds |u_n| so that u_n^T neither explodes nor vanishes:
|u_n| ≤ γ^{1/T} (γ the largest tolerated gradient growth), and, for a
neuron that must keep memory over T steps, |u_n| ≥ ε^{1/T}.
`recurrent_max_abs` clips |u| to such a bound at initialisation and after
every weight update, as the authors' code clips it (a Keras weight
constraint); `long_memory_bounds(T, magnitude)` returns
(magnitude^{-1/T}, magnitude^{1/T}), the lower and upper bounds to use:

    low, high = long_memory_bounds(timesteps=1000, magnitude=2.0)
    IndRNN(128, recurrent_max_abs=high,
           recurrent_initializer=keras.initializers.RandomUniform(low, high))

initialises u in [low, high], the range the authors use (to our reading of
the paper and their code) for the last layer of their long-sequence models,
whose neurons must remember; other layers start with u uniform in [0, 1]
(this cell's default recurrent initializer), clipped to the upper bound.

Weights: `kernel` W `(input_dim, units)`, `recurrent_kernel` u, a vector
`(units,)` (not a matrix), `bias` b `(units,)`. Differences from the paper:
none in the cell; its deep models' batch normalisation and residual
shortcuts between layers are for the model around it.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


def long_memory_bounds(timesteps, magnitude=2.0):
    """The paper's bounds on |u| for memory over `timesteps` steps.

    Args:
        timesteps: T, the number of steps the memory must span.
        magnitude: γ, the largest factor by which u^T may grow (and 1/γ the
            smallest it may shrink to), e.g. 2.

    Returns:
        `(magnitude^{-1/T}, magnitude^{1/T})`.

    Example:

    >>> low, high = long_memory_bounds(100, magnitude=2.0)
    >>> round(high ** 100, 6), round(low ** 100, 6)
    (2.0, 0.5)
    """
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps <= 0:
        raise ValueError(
            "Argument `timesteps` must be a positive integer. "
            f"Received: timesteps={timesteps!r}"
        )
    if not isinstance(magnitude, (int, float)) or not magnitude > 1.0:
        raise ValueError(
            "Argument `magnitude` must be a number above 1. "
            f"Received: magnitude={magnitude!r}"
        )
    return magnitude ** (-1.0 / timesteps), magnitude ** (1.0 / timesteps)


class _ClipAbsolute(keras.constraints.Constraint):
    """|u| ≤ max_abs after every update, then the user's own constraint."""

    def __init__(self, max_abs, then=None):
        self.max_abs = max_abs
        self.then = then

    def __call__(self, w):
        w = ops.clip(w, -self.max_abs, self.max_abs)
        return self.then(w) if self.then is not None else w


@keras.saving.register_keras_serializable(package="zoo")
class IndRNNCell(RecurrentCell):
    """Cell of the IndRNN: one time step.

    Args:
        units: Positive integer, dimensionality of the state h.
        activation: σ, the activation of the state (ReLU, the paper's).
        use_bias: Whether the layer has the bias b.
        recurrent_max_abs: None (no bound) or a positive number: |u| is
            clipped to it at initialisation and after every weight update
            (the paper's bound; see `long_memory_bounds`).
        recurrent_initializer: Initializer of u; None means uniform in
            [0, 1], the paper's.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `kernel_initializer`, `bias_initializer`, regularizers and
            constraints, `dropout`, `recurrent_dropout`, `seed`; and Keras's
            layer arguments. `recurrent_activation` is accepted and unused:
            the IndRNN has no gates.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(IndRNNCell(4, recurrent_max_abs=2.0))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        activation="relu",
        use_bias=True,
        recurrent_max_abs=None,
        recurrent_initializer=None,
        **kwargs,
    ):
        if recurrent_max_abs is not None:
            is_number = isinstance(recurrent_max_abs, (int, float)) and not isinstance(
                recurrent_max_abs, bool
            )
            if not is_number or not recurrent_max_abs > 0:
                raise ValueError(
                    "Argument `recurrent_max_abs` must be None or a positive "
                    f"number. Received: recurrent_max_abs={recurrent_max_abs!r}"
                )
            recurrent_max_abs = float(recurrent_max_abs)
        if recurrent_initializer is None:
            # The paper: u uniform in [0, 1].
            recurrent_initializer = keras.initializers.RandomUniform(0.0, 1.0)
        super().__init__(units, recurrent_initializer=recurrent_initializer, **kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.recurrent_max_abs = recurrent_max_abs
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], self.units)
        initializer, constraint = self.recurrent_initializer, self.recurrent_constraint
        if self.recurrent_max_abs is not None:
            bound = self.recurrent_max_abs
            constraint = _ClipAbsolute(bound, constraint)

            def initializer(shape, dtype=None):
                # u starts within the bound too.
                return ops.clip(self.recurrent_initializer(shape, dtype=dtype), -bound, bound)

        # u: one recurrent weight per neuron.
        self.recurrent_kernel = self.add_weight(
            shape=(self.units,),
            name="recurrent_kernel",
            initializer=initializer,
            regularizer=self.recurrent_regularizer,
            constraint=constraint,
        )
        self.bias = self.add_bias((self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1 = self.dropped_inputs(inputs, h_tm1, training)
        pre = ops.matmul(x, self.kernel) + self.recurrent_kernel * h_tm1
        if self.use_bias:
            pre = pre + self.bias
        # h_t = σ(W x_t + u ⊙ h_{t-1} + b)
        h = self.activation(pre)
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "recurrent_max_abs": self.recurrent_max_abs,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class IndRNN(RNN):
    """Independently Recurrent Neural Network layer (Li et al. 2018).

    Runs `IndRNNCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        activation: σ (ReLU).
        recurrent_max_abs: None or the bound on |u| (see
            `long_memory_bounds`).
        **kwargs: Every other argument of `IndRNNCell` (use_bias,
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
    >>> low, high = long_memory_bounds(10)
    >>> layer = IndRNN(4, recurrent_max_abs=high, return_sequences=True,
    ...     recurrent_initializer=keras.initializers.RandomUniform(low, high))
    >>> tuple(layer(x).shape)
    (8, 10, 4)
    """

    cell_class = IndRNNCell
    cell_name = "indrnn_cell"

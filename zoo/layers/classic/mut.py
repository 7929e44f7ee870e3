"""MUT1, MUT2, MUT3: the three cells found by evolutionary search.

Jozefowicz, Zaremba & Sutskever, "An Empirical Exploration of Recurrent
Network Architectures" (ICML 2015). The authors evaluated over ten thousand
architectures grown by mutating the GRU and the LSTM, scoring each on
arithmetic, XML modelling and Penn Treebank language modelling, and report
the three best, which outperform the LSTM and the GRU on some but not all
of those tasks. Their equations (Section 3), in the paper's symbols and
time indexing (x_t and h_t give h_{t+1}; sigm the logistic sigmoid, ⊙
elementwise):

MUT1:

    z = sigm(W_xz x_t + b_z)
    r = sigm(W_xr x_t + W_hr h_t + b_r)
    h_{t+1} = tanh(W_hh (r ⊙ h_t) + tanh(x_t) + b_h) ⊙ z + h_t ⊙ (1 - z)

MUT2:

    z = sigm(W_xz x_t + W_hz h_t + b_z)
    r = sigm(x_t + W_hr h_t + b_r)
    h_{t+1} = tanh(W_hh (r ⊙ h_t) + W_xh x_t + b_h) ⊙ z + h_t ⊙ (1 - z)

MUT3:

    z = sigm(W_xz x_t + W_hz tanh(h_t) + b_z)
    r = sigm(W_xr x_t + W_hr h_t + b_r)
    h_{t+1} = tanh(W_hh (r ⊙ h_t) + W_xh x_t + b_h) ⊙ z + h_t ⊙ (1 - z)

Here z weights the *new* candidate and 1 - z keeps the old state (the zoo's
GRU, after Cho et al., has it the other way round).

Where the zoo differs: MUT1's tanh(x_t) and MUT2's un-weighted x_t in r add
the input to a vector of width `units`, which needs inputs exactly as wide
as the state. By default (`input_projection=True`) those two terms get a
learned weight, tanh(W_xh x_t) in MUT1 and W_xr x_t in MUT2, so the cells
take inputs of any width, as ports such as RecurrentLayers.jl do; the
paper's equations are the special case W = I. `input_projection=False` computes the paper's
equations exactly and then requires `features == units`.

Weights (blocks in the order given, each `units` wide):

    MUT1  kernel (features, 3u) [W_xz, W_xr, W_xh]
              ([W_xz, W_xr] with input_projection=False)
          recurrent_kernel (u, 2u) [W_hr, W_hh]
          bias (3u,) [b_z, b_r, b_h]
    MUT2  kernel (features, 3u) [W_xz, W_xr, W_xh]
              ([W_xz, W_xh] with input_projection=False)
          recurrent_kernel (u, 3u) [W_hz, W_hr, W_hh]
          bias (3u,) [b_z, b_r, b_h]
    MUT3  kernel (features, 3u) [W_xz, W_xr, W_xh]
          recurrent_kernel (u, 3u) [W_hz, W_hr, W_hh]
          bias (3u,) [b_z, b_r, b_h]

Every matrix acts on the right of a row vector (x_t W), as in Keras; from a
PyTorch-style `(out, in)` weight, transpose it.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{name}` must be True or False. "
            f"Received: {name}={value!r}"
        )


class _MUTCell(RecurrentCell):
    """What the three MUT cells share: one state h, biases [z, r, h], and
    the GRU-like update h_{t+1} = h̃ ⊙ z + h_t ⊙ (1 - z)."""

    # How many `units`-wide blocks its input and recurrent kernels have.
    kernel_blocks = 3
    recurrent_blocks = 3

    def __init__(self, units, use_bias=True, **kwargs):
        _check_bool("use_bias", use_bias)
        super().__init__(units, **kwargs)
        self.use_bias = use_bias
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(
            input_shape[-1], self.kernel_blocks * self.units
        )
        self.recurrent_kernel = self.add_recurrent_kernel(
            self.recurrent_blocks * self.units
        )
        self.bias = self.add_bias((3 * self.units,)) if self.use_bias else None

    def step_inputs(self, inputs, states, training):
        """x_t and h_t after dropout, and h_t as it was."""
        h_t = states[0] if isinstance(states, (list, tuple)) else states
        x_t, h_t_dropped = self.dropped_inputs(inputs, h_t, training)
        return x_t, h_t, h_t_dropped

    def biases(self):
        if not self.use_bias:
            return 0.0, 0.0, 0.0
        return ops.split(self.bias, 3)

    def update(self, candidate, z, h_t):
        # h_{t+1} = h̃ ⊙ z + h_t ⊙ (1 - z)
        h = candidate * z + h_t * (1.0 - z)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "use_bias": self.use_bias}


class _ProjectedMUTCell(_MUTCell):
    """MUT1 and MUT2: the cells with an un-weighted x_t in the paper."""

    def __init__(self, units, input_projection=True, **kwargs):
        _check_bool("input_projection", input_projection)
        super().__init__(units, **kwargs)
        self.input_projection = input_projection

    @property
    def kernel_blocks(self):
        # W_xh (MUT1) or W_xr (MUT2) only with the projection.
        return 3 if self.input_projection else 2

    def build(self, input_shape):
        features = input_shape[-1]
        if not self.input_projection and features != self.units:
            raise ValueError(
                f"{type(self).__name__} with `input_projection=False` adds "
                "x_t to a vector of width `units`, so its inputs must have "
                f"`units` features. Received: features={features}, "
                f"units={self.units}"
            )
        super().build(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "input_projection": self.input_projection,
        }


@keras.saving.register_keras_serializable(package="zoo")
class MUT1Cell(_ProjectedMUTCell):
    """Cell of MUT1 (Jozefowicz et al. 2015): one time step.

    z = sigm(W_xz x_t + b_z) reads only the input; the candidate adds
    tanh(x_t) (tanh(W_xh x_t) with `input_projection`).

    Args:
        units: Positive integer, dimensionality of the state h.
        input_projection: True (default): the paper's tanh(x_t) becomes
            tanh(W_xh x_t), so inputs may have any width. False: tanh(x_t)
            exactly, for inputs of width `units`.
        use_bias: Whether the cell has the biases b_z, b_r, b_h.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (sigm of the gates z and r, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout` (of x_t), `recurrent_dropout` (of h_t where it enters
            a matrix product), `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_t]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MUT1Cell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    recurrent_blocks = 2

    def call(self, inputs, states, training=False):
        x_t, h_t, h_t_dropped = self.step_inputs(inputs, states, training)
        b_z, b_r, b_h = self.biases()
        x_proj = ops.matmul(x_t, self.kernel)
        if self.input_projection:
            x_z, x_r, x_h = ops.split(x_proj, 3, axis=-1)
        else:
            (x_z, x_r), x_h = ops.split(x_proj, 2, axis=-1), x_t
        W_hr, W_hh = ops.split(self.recurrent_kernel, 2, axis=-1)

        # z = sigm(W_xz x_t + b_z)
        z = self.recurrent_activation(x_z + b_z)
        # r = sigm(W_xr x_t + W_hr h_t + b_r)
        r = self.recurrent_activation(x_r + ops.matmul(h_t_dropped, W_hr) + b_r)
        # h̃ = tanh(W_hh (r ⊙ h_t) + tanh(x_t) + b_h)
        candidate = ops.tanh(
            ops.matmul(r * h_t_dropped, W_hh) + ops.tanh(x_h) + b_h
        )
        return self.update(candidate, z, h_t)


@keras.saving.register_keras_serializable(package="zoo")
class MUT2Cell(_ProjectedMUTCell):
    """Cell of MUT2 (Jozefowicz et al. 2015): one time step.

    The reset gate r = sigm(x_t + W_hr h_t + b_r) takes the input without a
    weight (W_xr x_t with `input_projection`).

    Args:
        units: Positive integer, dimensionality of the state h.
        input_projection: True (default): the paper's x_t in r becomes
            W_xr x_t, so inputs may have any width. False: x_t exactly, for
            inputs of width `units`.
        use_bias: Whether the cell has the biases b_z, b_r, b_h.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (sigm of the gates z and r, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout` (of x_t), `recurrent_dropout` (of h_t where it enters
            a matrix product), `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_t]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MUT2Cell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def call(self, inputs, states, training=False):
        x_t, h_t, h_t_dropped = self.step_inputs(inputs, states, training)
        b_z, b_r, b_h = self.biases()
        x_proj = ops.matmul(x_t, self.kernel)
        if self.input_projection:
            x_z, x_r, x_h = ops.split(x_proj, 3, axis=-1)
        else:
            x_r, (x_z, x_h) = x_t, ops.split(x_proj, 2, axis=-1)
        W_hz, W_hr, W_hh = ops.split(self.recurrent_kernel, 3, axis=-1)

        # z = sigm(W_xz x_t + W_hz h_t + b_z)
        z = self.recurrent_activation(x_z + ops.matmul(h_t_dropped, W_hz) + b_z)
        # r = sigm(x_t + W_hr h_t + b_r)
        r = self.recurrent_activation(x_r + ops.matmul(h_t_dropped, W_hr) + b_r)
        # h̃ = tanh(W_hh (r ⊙ h_t) + W_xh x_t + b_h)
        candidate = ops.tanh(ops.matmul(r * h_t_dropped, W_hh) + x_h + b_h)
        return self.update(candidate, z, h_t)


@keras.saving.register_keras_serializable(package="zoo")
class MUT3Cell(_MUTCell):
    """Cell of MUT3 (Jozefowicz et al. 2015): one time step.

    The update gate reads the squashed state: z = sigm(W_xz x_t +
    W_hz tanh(h_t) + b_z).

    Args:
        units: Positive integer, dimensionality of the state h.
        use_bias: Whether the cell has the biases b_z, b_r, b_h.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (sigm of the gates z and r, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout` (of x_t), `recurrent_dropout` (of h_t where it enters
            a matrix product), `seed`; and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_t]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MUT3Cell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def call(self, inputs, states, training=False):
        x_t, h_t, h_t_dropped = self.step_inputs(inputs, states, training)
        b_z, b_r, b_h = self.biases()
        x_z, x_r, x_h = ops.split(ops.matmul(x_t, self.kernel), 3, axis=-1)
        W_hz, W_hr, W_hh = ops.split(self.recurrent_kernel, 3, axis=-1)

        # z = sigm(W_xz x_t + W_hz tanh(h_t) + b_z)
        z = self.recurrent_activation(
            x_z + ops.matmul(ops.tanh(h_t_dropped), W_hz) + b_z
        )
        # r = sigm(W_xr x_t + W_hr h_t + b_r)
        r = self.recurrent_activation(x_r + ops.matmul(h_t_dropped, W_hr) + b_r)
        # h̃ = tanh(W_hh (r ⊙ h_t) + W_xh x_t + b_h)
        candidate = ops.tanh(ops.matmul(r * h_t_dropped, W_hh) + x_h + b_h)
        return self.update(candidate, z, h_t)


_LAYER_DOC = """{name} layer (Jozefowicz, Zaremba & Sutskever 2015).

    Runs `{name}Cell` over a sequence; the module docstring gives its
    equations and weight layout.

    Args:
        units: Positive integer, dimensionality of the state.{projection}
        **kwargs: Every other argument of `{name}Cell` (`use_bias`,
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
    >>> tuple({name}(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """
_PROJECTION_DOC = """
        input_projection: True (default): a learned weight on the paper's
            un-weighted x_t term, for inputs of any width. False: the
            paper's equations exactly, for inputs of width `units`."""


@keras.saving.register_keras_serializable(package="zoo")
class MUT1(RNN):
    __doc__ = _LAYER_DOC.format(name="MUT1", projection=_PROJECTION_DOC)
    cell_class = MUT1Cell
    cell_name = "mut1_cell"


@keras.saving.register_keras_serializable(package="zoo")
class MUT2(RNN):
    __doc__ = _LAYER_DOC.format(name="MUT2", projection=_PROJECTION_DOC)
    cell_class = MUT2Cell
    cell_name = "mut2_cell"


@keras.saving.register_keras_serializable(package="zoo")
class MUT3(RNN):
    __doc__ = _LAYER_DOC.format(name="MUT3", projection="")
    cell_class = MUT3Cell
    cell_name = "mut3_cell"

"""The original LSTM of Hochreiter & Schmidhuber (1997).

S. Hochreiter and J. Schmidhuber, "Long Short-Term Memory", Neural
Computation 9(8):1735-1780, 1997. Notation of the paper (Section 4 and
Appendix A.1): a memory cell block j has one input gate in_j and one output
gate out_j, shared by its S cells c_j^v. Each cell has an internal state, the
constant error carousel (CEC), whose self-connection is fixed at 1.0; there
is no forget gate and there are no peepholes. With y^u(t-1) the activations
of the units the block listens to (inputs x(t) and, for "F" connectivity,
every cell output and every gate activation at t-1):

    net_in_j(t)   = Σ_u w_{in_j u} y^u(t-1)       y^{in_j}(t)  = f(net_in_j(t))
    net_out_j(t)  = Σ_u w_{out_j u} y^u(t-1)      y^{out_j}(t) = f(net_out_j(t))
    net_c_j^v(t)  = Σ_u w_{c_j^v u} y^u(t-1)
    s_c_j^v(t)    = s_c_j^v(t-1) + y^{in_j}(t) g(net_c_j^v(t))       (CEC)
    y^{c_j^v}(t)  = y^{out_j}(t) h(s_c_j^v(t))

with f the logistic sigmoid, g(x) = 4σ(x) - 2 = 2 tanh(x/2) in [-2, 2] and
h(x) = 2σ(x) - 1 = tanh(x/2) in [-1, 1] (Appendix A.1). All activations and
states start at zero for every sequence.

The truncated gradient (Section 4, Appendix A.1): errors arriving at net_in,
net_out and net_c are not propagated back in time (∂net(t)/∂y^u(t-1) ≈ 0);
only the CEC carries error backwards, through s(t-1) -> s(t) with weight 1.
Here that is a stop-gradient on the recurrent input vector y^u(t-1); the
weights still learn from it as the presynaptic factor, and the state s flows
untouched. Backpropagation through time then yields exactly the paper's
RTRL-style truncated gradient (the tests check this against a hand-written
RTRL). `truncated_gradient=False` gives full BPTT instead.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell, check_positive_int


@keras.saving.register_keras_serializable(package="zoo")
def squash_g(x):
    """g(x) = 4σ(x) - 2 = 2 tanh(x/2): the 1997 cell-input squasher, [-2, 2]."""
    return 2.0 * ops.tanh(x / 2.0)


@keras.saving.register_keras_serializable(package="zoo")
def squash_h(x):
    """h(x) = 2σ(x) - 1 = tanh(x/2): the 1997 cell-output squasher, [-1, 1]."""
    return ops.tanh(x / 2.0)


SQUASHERS = {"squash_g": squash_g, "squash_h": squash_h}
RECURRENCE = ("full", "cells", "none")


def get_squasher(identifier):
    """`"squash_g"`, `"squash_h"`, or anything `keras.activations.get` takes."""
    if isinstance(identifier, str) and identifier in SQUASHERS:
        return SQUASHERS[identifier]
    return keras.activations.get(identifier)


def serialize_squasher(function):
    for name, squasher in SQUASHERS.items():
        if function is squasher:
            return name
    return keras.activations.serialize(function)


def paper_uniform(limit=0.1):
    """The paper's initialisation: uniform in [-limit, limit] (0.1 or 0.2)."""
    return keras.initializers.RandomUniform(-limit, limit)


@keras.saving.register_keras_serializable(package="zoo")
class OriginalLSTMCell(RecurrentCell):
    """Cell of the 1997 LSTM: memory cell blocks with a CEC, no forget gate.

    Units are laid out block by block: cell v of block j is unit j·S + v of
    the output y_c and the state s_c.

    Args:
        blocks: Positive integer, number of memory cell blocks B.
        block_size: Positive integer, cells per block S (each block shares
            one input gate and one output gate). Default 1.
        cell_input_activation: g. "squash_g" (default, 2 tanh(x/2)), or any
            Keras activation (Exp. 2a/2b use "sigmoid").
        cell_output_activation: h. "squash_h" (default, tanh(x/2)), or any
            Keras activation (Exp. 2a/2b use "linear").
        recurrence: What the gates and cells hear from t-1: "full" (default;
            the paper's "F" connectivity: every cell output and every gate
            activation), "cells" (cell outputs only), or "none" (inputs
            only, as in Exp. 2a/2b).
        truncated_gradient: True (default): the paper's truncated gradient,
            error flows back in time only through the CEC. False: full BPTT.
        output_gate: Whether blocks have output gates (Exp. 2a/2b have none:
            y_out = 1).
        use_input_gate_bias, use_output_gate_bias, use_cell_bias: Which unit
            groups have a bias weight (Exp. 1: gates only; Exp. 2: none;
            Exp. 3-6: all).
        input_gate_bias, output_gate_bias: Initial gate biases: None (drawn
            by `bias_initializer`), one float for every block, or a list
            with one float per block, e.g. the staggered `[-3.0, -6.0]` of
            Exp. 4.
        kernel_initializer, recurrent_initializer, bias_initializer: Default
            to the paper's uniform [-0.1, 0.1] (Exp. 1 and 2 use 0.2: pass
            `paper_uniform(0.2)`).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (f, the gates' activation, sigmoid),
            regularizers and constraints, and `dropout`, `recurrent_dropout`
            and `seed` (not in the paper; recurrent dropout drops the cell
            outputs y_c(t-1), not gate activations); and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x(t).
        states: `[y_c(t-1), s_c(t-1), y_in(t-1), y_out(t-1)]` of widths
            B·S, B·S, B, B.
        training: Whether dropout applies.

    Example:

    >>> cell = OriginalLSTMCell(blocks=2, block_size=2,
    ...                         input_gate_bias=[-3.0, -6.0])
    >>> tuple(keras.layers.RNN(cell)(np.zeros((1, 5, 2))).shape)
    (1, 4)
    """

    def __init__(
        self,
        blocks,
        block_size=1,
        cell_input_activation="squash_g",
        cell_output_activation="squash_h",
        recurrence="full",
        truncated_gradient=True,
        output_gate=True,
        use_input_gate_bias=True,
        use_output_gate_bias=True,
        use_cell_bias=True,
        input_gate_bias=None,
        output_gate_bias=None,
        kernel_initializer=None,
        recurrent_initializer=None,
        bias_initializer=None,
        **kwargs,
    ):
        check_positive_int("blocks", blocks)
        check_positive_int("block_size", block_size)
        if recurrence not in RECURRENCE:
            raise ValueError(
                f"Argument `recurrence` must be one of {RECURRENCE}. "
                f"Received: recurrence={recurrence!r}"
            )
        super().__init__(
            blocks * block_size,
            kernel_initializer=kernel_initializer or paper_uniform(),
            recurrent_initializer=recurrent_initializer or paper_uniform(),
            bias_initializer=bias_initializer or paper_uniform(),
            **kwargs,
        )
        self.blocks = blocks
        self.block_size = block_size
        self.cell_input_activation = get_squasher(cell_input_activation)
        self.cell_output_activation = get_squasher(cell_output_activation)
        self.recurrence = recurrence
        self.truncated_gradient = bool(truncated_gradient)
        self.output_gate = bool(output_gate)
        self.use_input_gate_bias = bool(use_input_gate_bias)
        self.use_output_gate_bias = bool(use_output_gate_bias) and self.output_gate
        self.use_cell_bias = bool(use_cell_bias)
        self.input_gate_bias = self._per_block("input_gate_bias", input_gate_bias)
        self.output_gate_bias = self._per_block(
            "output_gate_bias", output_gate_bias
        )
        cells = blocks * block_size
        self.state_size = [cells, cells, blocks, blocks]  # y_c, s_c, y_in, y_out

    def _per_block(self, name, value):
        """None, or a list of `blocks` floats (one float is broadcast)."""
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [float(value)] * self.blocks
        try:
            values = [float(v) for v in value]
        except (TypeError, ValueError):
            values = None
        if values is None or len(values) != self.blocks:
            raise ValueError(
                f"Argument `{name}` must be None, a float, or a list of "
                f"{self.blocks} floats (one per block). Received: "
                f"{name}={value!r}"
            )
        return values

    @property
    def recurrent_width(self):
        """Length of the recurrent input vector y^u(t-1)."""
        if self.recurrence == "none":
            return 0
        if self.recurrence == "cells":
            return self.units
        return self.units + self.blocks * (2 if self.output_gate else 1)

    def build(self, input_shape):
        super().build(input_shape)
        # Columns of W and R: [net_in (B) | net_out (B) | net_c (B·S)].
        width = self.blocks * (2 if self.output_gate else 1) + self.units
        self.kernel = self.add_kernel(input_shape[-1], width)
        self.recurrent_kernel = None
        if self.recurrent_width:
            self.recurrent_kernel = self.add_recurrent_kernel(
                width, rows=self.recurrent_width
            )
        self.b_in = self._maybe_bias(
            "input_gate_bias", self.use_input_gate_bias, self.blocks,
            self.input_gate_bias,
        )
        self.b_out = self._maybe_bias(
            "output_gate_bias", self.use_output_gate_bias, self.blocks,
            self.output_gate_bias,
        )
        self.b_c = self._maybe_bias(
            "cell_bias", self.use_cell_bias, self.units, None
        )

    def _maybe_bias(self, name, used, size, values):
        if not used:
            return None
        initializer = (
            keras.initializers.Constant(values) if values is not None else None
        )
        return self.add_bias((size,), initializer, name=name)

    def step(self, inputs, states, training=False):
        y_c_tm1, s_tm1, y_in_tm1, y_out_tm1 = states
        B, S = self.blocks, self.block_size

        # net(t) = Σ_u w_u y^u(t-1): inputs x(t), and what the block hears
        # from t-1 under the chosen connectivity.
        x = inputs
        if training and self.dropout > 0.0:
            x = x * self.get_dropout_mask(x)
        net = ops.matmul(x, self.kernel)
        if self.recurrent_width:
            y_c_heard = y_c_tm1
            if training and self.recurrent_dropout > 0.0:
                # Recurrent dropout acts on the cell outputs, not the gates.
                y_c_heard = y_c_heard * self.get_recurrent_dropout_mask(y_c_tm1)
            if self.recurrence == "cells":
                recurrent = y_c_heard
            elif self.output_gate:
                recurrent = ops.concatenate([y_c_heard, y_in_tm1, y_out_tm1], -1)
            else:
                recurrent = ops.concatenate([y_c_heard, y_in_tm1], -1)
            if self.truncated_gradient:
                # ∂net(t)/∂y^u(t-1) ≈_tr 0: no error flows back in time
                # through net_in, net_out or net_c; only through the CEC.
                recurrent = ops.stop_gradient(recurrent)
            net = net + ops.matmul(recurrent, self.recurrent_kernel)

        net_in = net[:, :B]
        net_c = net[:, -self.units:]
        if self.use_input_gate_bias:
            net_in = net_in + self.b_in
        if self.use_cell_bias:
            net_c = net_c + self.b_c

        # y^in_j(t) = f(net_in_j(t))
        y_in = self.recurrent_activation(net_in)
        # y^out_j(t) = f(net_out_j(t)); without output gates y^out = 1
        if self.output_gate:
            net_out = net[:, B : 2 * B]
            if self.use_output_gate_bias:
                net_out = net_out + self.b_out
            y_out = self.recurrent_activation(net_out)
        else:
            y_out = ops.ones_like(y_in)

        # A block's gates are shared by its S cells: view the cells as
        # (blocks, S) so each gate broadcasts over its own block.
        def per_block(cells):
            return ops.reshape(cells, (-1, B, S))

        def per_cell(blocks):
            return ops.reshape(blocks, (-1, B * S))

        g = self.cell_input_activation(net_c)
        # s_c(t) = s_c(t-1) + y^in(t) g(net_c(t)): the CEC, self-weight 1.0
        s = s_tm1 + per_cell(y_in[:, :, None] * per_block(g))
        # y^c(t) = y^out(t) h(s_c(t))
        y_c = per_cell(
            y_out[:, :, None] * per_block(self.cell_output_activation(s))
        )
        # The gates are per block (width B), g, s_c and y^c per cell (B·S).
        activations = {"y_in": y_in, "y_out": y_out, "g": g, "s_c": s, "y_c": y_c}
        return y_c, [y_c, s, y_in, y_out], activations

    def get_config(self):
        config = super().get_config()
        del config["units"]  # derived: blocks * block_size
        config.update(
            {
                "blocks": self.blocks,
                "block_size": self.block_size,
                "cell_input_activation": serialize_squasher(
                    self.cell_input_activation
                ),
                "cell_output_activation": serialize_squasher(
                    self.cell_output_activation
                ),
                "recurrence": self.recurrence,
                "truncated_gradient": self.truncated_gradient,
                "output_gate": self.output_gate,
                "use_input_gate_bias": self.use_input_gate_bias,
                "use_output_gate_bias": self.use_output_gate_bias,
                "use_cell_bias": self.use_cell_bias,
                "input_gate_bias": self.input_gate_bias,
                "output_gate_bias": self.output_gate_bias,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class OriginalLSTM(RNN):
    """The 1997 Long Short-Term Memory layer (Hochreiter & Schmidhuber).

    Runs `OriginalLSTMCell` over a sequence: memory cell blocks with a
    constant error carousel, input and output gates, no forget gate, the
    paper's squashers, "F" connectivity and the truncated gradient. Its
    output is the cell outputs y_c (width `blocks * block_size`).
    `keras.layers.LSTM` and `zoo.layers.LSTM` are the forget-gate LSTM of
    2000 onwards; this is the cell of the 1997 paper.

    Args:
        blocks: Positive integer, number of memory cell blocks.
        block_size: Cells per block (1).
        **kwargs: Every other argument of `OriginalLSTMCell` (squashers,
            connectivity, `truncated_gradient`, gates, biases,
            initializers, dropout), of `keras.layers.RNN`
            (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`), and of a Keras layer (`name`,
            `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional `[y_c, s_c, y_in, y_out]`.

    Example: the adding problem's network (Exp. 4, 93 weights with its
    output unit).

    >>> layer = OriginalLSTM(blocks=2, block_size=2,
    ...                      input_gate_bias=[-3.0, -6.0])
    >>> y = layer(np.zeros((1, 100, 2), "float32"))
    >>> tuple(y.shape), layer.count_params()
    ((1, 4), 88)
    """

    cell_class = OriginalLSTMCell
    cell_name = "original_lstm_cell"

    @property
    def blocks(self):
        return self.cell.blocks

    @property
    def block_size(self):
        return self.cell.block_size

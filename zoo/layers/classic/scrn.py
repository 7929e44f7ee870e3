"""Structurally Constrained Recurrent Network: Mikolov et al. 2015.

Tomas Mikolov, Armand Joulin, Sumit Chopra, Michael Mathieu & Marc'Aurelio
Ranzato, "Learning Longer Memory in Recurrent Neural Networks" (ICLR 2015
workshop, arXiv:1412.7753). A simple recurrent network (Elman) plus a slowly
changing context state s_t whose recurrent matrix is fixed to αI,
as the paper writes it:

    s_t = (1 - α) B x_t + α s_{t-1}             context (slow) state
    h_t = σ(P s_t + A x_t + R h_{t-1})          hidden (fast) state
    y_t = f(U h_t + V s_t)                      output (the task's head)

with σ the logistic sigmoid, α fixed (0.95 in the paper) and f the softmax
of a language model. Designed to show that a plain RNN with this one
structural constraint keeps longer memory (the context units act as a
cache of the recent past) and approaches the LSTM on language modelling.

What the layer outputs: [h_t; s_t], the concatenation of the hidden and the
context state, `units + context_units` wide. The paper's output y_t reads
both states, through U and V; a `Dense` on the layer's output is exactly
f(U h_t + V s_t) with kernel [U; V], so the paper's model is this layer plus
a Dense. Outputting h_t alone would hide s_t from the next layer (it would
see the context only through P). The cell's one state is that same
concatenation [h_t; s_t] (`return_state` gives it; `initial_state` takes
it): Keras's masked time loop on JAX treats the first state as the
previous output, so output and first state must coincide. The catalogue
builds an SCRN by its output width (`scrn_of_width`): hidden plus context
units.

Weights: `kernel` `(input_dim, context_units + units)` holds [B | A] (the
context block first, as s_t is computed first); `context_kernel` P
`(context_units, units)`; `recurrent_kernel` R `(units, units)`; `bias`
`(units,)`, added inside σ. The paper writes no biases (Mikolov's usual
notation); `use_bias=False` drops it. α is a constant, not a weight.

Dropout: `dropout` drops x_t (for both B and A) and `recurrent_dropout`
drops h_{t-1} before R, one mask per sequence each. s_{t-1} is not dropped:
its recurrence is the fixed α, with no weight to regularise.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell, check_positive_int


@keras.saving.register_keras_serializable(package="zoo")
class SCRNCell(RecurrentCell):
    """Cell of the SCRN: one time step.

    Args:
        units: Positive integer, dimensionality of the hidden state h.
        context_units: Positive integer, dimensionality of the context
            state s; None (default) means `max(1, units // 4)`, the ratio
            of the paper's smallest model (40 hidden, 10 context units):
            the context is a few slow features beside a larger fast state.
        alpha: α in [0, 1], the fixed self-connection of the context units
            (0.95, the paper's).
        activation: σ of the hidden state (sigmoid, the paper's).
        use_bias: Whether h has a bias inside σ.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `kernel_initializer` (B and A), `recurrent_initializer` (R and
            P), `bias_initializer`, regularizers and constraints, `dropout`,
            `recurrent_dropout`, `seed`; and Keras's layer arguments.
            `recurrent_activation` is accepted and unused: no gates.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[y_{t-1}]`, the previous output y_{t-1} = [h_{t-1};
            s_{t-1}], `(batch, units + context_units)`.
        training: Whether dropout applies.

    Example:

    >>> cell = SCRNCell(4, context_units=2)
    >>> tuple(keras.layers.RNN(cell)(np.zeros((2, 5, 3))).shape)
    (2, 6)
    """

    state_names = ["y"]  # what `step` reports

    def __init__(
        self,
        units,
        context_units=None,
        alpha=0.95,
        activation="sigmoid",
        use_bias=True,
        **kwargs,
    ):
        check_positive_int("units", units)
        if context_units is None:
            context_units = max(1, units // 4)
        check_positive_int("context_units", context_units)
        is_number = isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
        if not is_number or not 0.0 <= alpha <= 1.0:
            raise ValueError(
                f"Argument `alpha` must be a number in [0, 1]. Received: alpha={alpha!r}"
            )
        super().__init__(units, **kwargs)
        self.context_units = context_units
        self.alpha = float(alpha)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        # One state, the output [h; s]: Keras's masked loop on JAX takes the
        # first state for the previous output.
        self.state_size = [units + context_units]
        self.output_size = units + context_units

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], self.context_units + self.units)
        self.context_kernel = self.add_recurrent_kernel(
            self.units, name="context_kernel", rows=self.context_units
        )
        self.recurrent_kernel = self.add_recurrent_kernel(self.units)
        self.bias = self.add_bias((self.units,)) if self.use_bias else None

    def call(self, inputs, states, training=False):
        y_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        # The state is the previous output [h_{t-1}; s_{t-1}].
        # Keras draws the recurrent dropout mask in the state's shape; only
        # its h part is used (s_{t-1} is never dropped).
        x, y_tm1_dropped = self.dropped_inputs(inputs, y_tm1, training)
        h_tm1 = y_tm1_dropped[:, : self.units]
        s_tm1 = y_tm1[:, self.units :]
        x_proj = ops.matmul(x, self.kernel)
        x_s, x_h = x_proj[:, : self.context_units], x_proj[:, self.context_units :]
        # s_t = (1 - α) B x_t + α s_{t-1}
        s = (1.0 - self.alpha) * x_s + self.alpha * s_tm1
        # h_t = σ(P s_t + A x_t + R h_{t-1})
        pre = (
            ops.matmul(s, self.context_kernel)
            + x_h
            + ops.matmul(h_tm1, self.recurrent_kernel)
        )
        if self.use_bias:
            pre = pre + self.bias
        h = self.activation(pre)
        y = ops.concatenate([h, s], axis=-1)
        return y, [y]

    def get_config(self):
        config = {
            "context_units": self.context_units,
            "alpha": self.alpha,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class SCRN(RNN):
    """Structurally Constrained Recurrent Network layer (Mikolov et al. 2015).

    Runs `SCRNCell` over a sequence. Its output is [h_t; s_t],
    `units + context_units` wide (module docstring: a Dense on it is the
    paper's output layer).

    Args:
        units: Positive integer, dimensionality of the hidden state h.
        context_units: Dimensionality of the context state s (default
            `max(1, units // 4)`).
        alpha: The context units' fixed self-connection (0.95).
        **kwargs: Every other argument of `SCRNCell` (activation, use_bias,
            initializers, regularizers, constraints, dropout, seed), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[y]`, y = [h; s] one tensor
            `(batch, units + context_units)`, h first.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(SCRN(40, context_units=10, return_sequences=True)(x).shape)
    (8, 10, 50)
    """

    cell_class = SCRNCell
    cell_name = "scrn_cell"


def scrn_of_width(width, options, **layer_options):
    """An `SCRN` whose output [h; s] is `width` wide (the catalogue's build).

    Task configs give a layer's output width; the SCRN's output is
    `units + context_units` wide, so this splits `width`:
    `context_units` from `options` or `max(1, width // 5)` (the paper's
    40 hidden + 10 context units for 50), the rest hidden.

    Example:

    >>> layer = scrn_of_width(50, {})
    >>> layer.units, layer.cell.context_units
    (40, 10)
    """
    options = dict(options)
    context_units = options.pop("context_units", max(1, width // 5))
    if not isinstance(width, int) or isinstance(width, bool) or width < 2:
        raise ValueError(
            "Argument `units` of an SCRN must be an integer of at least 2 "
            f"(hidden plus context units). Received: units={width!r}"
        )
    check_positive_int("context_units", context_units)
    if context_units >= width:
        raise ValueError(
            "Argument `context_units` must be less than the output width "
            f"{width}, leaving room for hidden units. "
            f"Received: context_units={context_units!r}"
        )
    return SCRN(width - context_units, context_units=context_units, **options, **layer_options)

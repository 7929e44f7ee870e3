"""The modern LSTM family: forget gate, peepholes, and Greff et al.'s variants.

Names follow Greff, Srivastava, Koutník, Steunebrink & Schmidhuber, "LSTM: A
Search Space Odyssey" (IEEE TNNLS 2017, arXiv:1503.04069). Their "vanilla"
LSTM, for N cells, inputs x^t and block outputs y^t, is

    z̄^t = W_z x^t + R_z y^{t-1} + b_z                 z^t = g(z̄^t)   block input
    ī^t = W_i x^t + R_i y^{t-1} + p_i ⊙ c^{t-1} + b_i   i^t = σ(ī^t)   input gate
    f̄^t = W_f x^t + R_f y^{t-1} + p_f ⊙ c^{t-1} + b_f   f^t = σ(f̄^t)   forget gate
    c^t = z^t ⊙ i^t + c^{t-1} ⊙ f^t                                   cell state
    ō^t = W_o x^t + R_o y^{t-1} + p_o ⊙ c^t + b_o       o^t = σ(ō^t)   output gate
    y^t = h(c^t) ⊙ o^t                                                block output

with g = h = tanh. The forget gate is Gers, Schmidhuber & Cummins (2000); the
peepholes p_i, p_f, p_o are Gers & Schmidhuber (2000). The original 1997 cell
(no forget gate, no peepholes, truncated gradient) is `original_lstm.py`.

Each variant removes or adds one thing (`VARIANTS` below). The weights keep
Keras's layout: one `kernel` (W) and one `recurrent_kernel` (R) whose columns
are the gates' blocks in the order [i, f, z, o] (Keras calls z "c"), minus
the gates a variant drops; so variant "keras" has exactly the weights of
`keras.layers.LSTM` and the two exchange `get_weights()`.
"""

import dataclasses

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell, check_use_cudnn


@dataclasses.dataclass(frozen=True)
class LSTMVariant:
    """Which parts of the vanilla LSTM a variant keeps.

    Attributes:
        input_gate: i^t is a gate (False: i^t = 1, NIG).
        forget_gate: f^t is a gate with its own weights (False: f^t = 1, NFG).
        coupled_gates: f^t = 1 - i^t, with no forget weights (CIFG).
        output_gate: o^t is a gate (False: o^t = 1, NOG).
        peepholes: gates see the cell state through p_i, p_f, p_o (NP drops
            them).
        input_activation: z^t = g(z̄^t) (False: z^t = z̄^t, NIAF).
        output_activation: y^t = h(c^t) ⊙ o^t (False: y^t = c^t ⊙ o^t, NOAF).
        full_gate_recurrence: every gate also sees the previous gate
            activations i^{t-1}, f^{t-1}, o^{t-1} (FGR).
    """

    input_gate: bool = True
    forget_gate: bool = True
    coupled_gates: bool = False
    output_gate: bool = True
    peepholes: bool = True
    input_activation: bool = True
    output_activation: bool = True
    full_gate_recurrence: bool = False

    @property
    def gates(self):
        """The pre-activation blocks of W and R, in Keras's order."""
        blocks = []
        if self.input_gate:
            blocks.append("i")
        if self.forget_gate and not self.coupled_gates:
            blocks.append("f")
        blocks.append("z")
        if self.output_gate:
            blocks.append("o")
        return tuple(blocks)

    @property
    def peephole_gates(self):
        """Gates with a peephole weight vector, in the order [i, f, o]."""
        if not self.peepholes:
            return ()
        return tuple(g for g in self.gates if g != "z")

    @property
    def recurrent_gates(self):
        """Gates whose previous activations feed every gate under FGR."""
        if not self.full_gate_recurrence:
            return ()
        return tuple(g for g in self.gates if g != "z")


VANILLA = LSTMVariant()

# Greff et al. 2017, Section III; "keras" is Keras's LSTM (= NP).
VARIANTS = {
    "keras": LSTMVariant(peepholes=False),
    "vanilla": VANILLA,
    "NIG": dataclasses.replace(VANILLA, input_gate=False),
    "NFG": dataclasses.replace(VANILLA, forget_gate=False),
    "NOG": dataclasses.replace(VANILLA, output_gate=False),
    "NIAF": dataclasses.replace(VANILLA, input_activation=False),
    "NOAF": dataclasses.replace(VANILLA, output_activation=False),
    "NP": dataclasses.replace(VANILLA, peepholes=False),
    "CIFG": dataclasses.replace(VANILLA, coupled_gates=True),
    "FGR": dataclasses.replace(VANILLA, full_gate_recurrence=True),
}


def canonical_variant(variant):
    """Returns the `VARIANTS` key for `variant` (case-insensitive)."""
    if isinstance(variant, str):
        for name in VARIANTS:
            if name.lower() == variant.lower():
                return name
    raise ValueError(
        f"Argument `variant` must be one of {sorted(VARIANTS)}. "
        f"Received: variant={variant!r}"
    )


@keras.saving.register_keras_serializable(package="zoo")
class LSTMCell(RecurrentCell):
    """Cell of the LSTM family: one time step of any variant.

    This class processes one step of the sequence; `zoo.layers.LSTM` runs it
    over the whole sequence.

    Args:
        units: Positive integer, number of memory cells N.
        variant: One of "keras" (default), "vanilla", "NIG", "NFG", "NOG",
            "NIAF", "NOAF", "NP", "CIFG", "FGR" (case-insensitive); see the
            module docstring and `docs/layers.md`.
        activation: g and h (tanh). NIAF replaces g, NOAF replaces h, by the
            identity.
        use_bias: Whether the gates and block input have biases.
        unit_forget_bias: If True, b_f starts at exactly 1.0 (Jozefowicz et
            al. 2015), as in Keras; only for variants with their own forget
            gate.
        peephole_initializer: Initializer of the peephole weights
            (`peephole_kernel`, rows [p_i, p_f, p_o]). Zeros by default, so
            a new cell starts out as its no-peephole counterpart.
        peephole_regularizer, peephole_constraint: Regularizer and
            constraint of the peephole weights.
        implementation: Keras's legacy choice between one matrix product
            for all gates (2) and one per gate (1), accepted (any value, as
            Keras 3 accepts it) and ignored: both compute the same function,
            and the cell always takes the single product. Stored as
            `self.implementation` and, as in Keras, left out of
            `get_config()`.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ, sigmoid), `kernel_initializer` (W,
            glorot_uniform), `recurrent_initializer` (R and, for FGR,
            `gate_recurrent_kernel`; orthogonal), `bias_initializer` (b,
            zeros), their regularizers and constraints, `dropout` (on x^t),
            `recurrent_dropout` (on y^{t-1}), `seed`; and Keras's layer
            arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x^t.
        states: `[y^{t-1}, c^{t-1}]`, each `(batch, units)`; FGR adds the
            previous gate activations `(batch, 3 * units)` as a third state.
        training: Whether dropout applies.

    Example:

    >>> cell = LSTMCell(4, variant="CIFG")
    >>> rnn = keras.layers.RNN(cell)
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        variant="keras",
        activation="tanh",
        use_bias=True,
        unit_forget_bias=True,
        peephole_initializer="zeros",
        peephole_regularizer=None,
        peephole_constraint=None,
        **kwargs,
    ):
        # Keras's legacy argument: accepted, ignored, not in get_config().
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, **kwargs)
        self.implementation = implementation
        self.variant = canonical_variant(variant)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.spec = VARIANTS[self.variant]
        self.unit_forget_bias = unit_forget_bias
        self.peephole_initializer = keras.initializers.get(
            peephole_initializer
        )
        self.peephole_regularizer = keras.regularizers.get(
            peephole_regularizer
        )
        self.peephole_constraint = keras.constraints.get(peephole_constraint)
        self.state_size = [units, units]  # [y, c]
        if self.spec.recurrent_gates:
            self.state_size.append(len(self.spec.recurrent_gates) * units)

    def build(self, input_shape):
        super().build(input_shape)
        width = len(self.spec.gates) * self.units
        self.kernel = self.add_kernel(input_shape[-1], width)
        self.recurrent_kernel = self.add_recurrent_kernel(width)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_bias((width,), self._bias_initializer())
        self.peephole_kernel = None
        if self.spec.peephole_gates:
            self.peephole_kernel = self.add_weight(
                shape=(len(self.spec.peephole_gates), self.units),
                name="peephole_kernel",
                initializer=self.peephole_initializer,
                regularizer=self.peephole_regularizer,
                constraint=self.peephole_constraint,
            )
        self.gate_recurrent_kernel = None
        if self.spec.recurrent_gates:
            # R_ii, R_fi, ... R_oo of FGR: previous [i, f, o] -> [ī, f̄, ō].
            n = len(self.spec.recurrent_gates) * self.units
            self.gate_recurrent_kernel = self.add_recurrent_kernel(
                n, name="gate_recurrent_kernel", rows=n
            )

    def _bias_initializer(self):
        """b_f = 1 under `unit_forget_bias`; the other blocks as configured."""
        if not (self.unit_forget_bias and "f" in self.spec.gates):
            return self.bias_initializer

        def initializer(shape, dtype=None):
            blocks = [
                keras.initializers.Ones()((self.units,), dtype=dtype)
                if gate == "f"
                else self.bias_initializer((self.units,), dtype=dtype)
                for gate in self.spec.gates
            ]
            return ops.concatenate(blocks)

        return initializer

    def step(self, inputs, states, training=False):
        spec = self.spec
        y_tm1, c_tm1 = states[0], states[1]
        x, y_tm1_dropped = self.dropped_inputs(inputs, y_tm1, training)

        # W x^t + R y^{t-1} + b for every gate at once, then one block each.
        pre = ops.matmul(x, self.kernel)
        pre = pre + ops.matmul(y_tm1_dropped, self.recurrent_kernel)
        if self.use_bias:
            pre = pre + self.bias
        pre = dict(zip(spec.gates, ops.split(pre, len(spec.gates), axis=-1)))

        if spec.recurrent_gates:
            # FGR: ī^t += R_ii i^{t-1} + R_fi f^{t-1} + R_oi o^{t-1}, etc.
            gates_tm1 = states[2]
            from_gates = ops.matmul(gates_tm1, self.gate_recurrent_kernel)
            from_gates = ops.split(from_gates, len(spec.recurrent_gates), -1)
            for gate, extra in zip(spec.recurrent_gates, from_gates):
                pre[gate] = pre[gate] + extra

        peephole = {
            g: self.peephole_kernel[row]
            for row, g in enumerate(spec.peephole_gates)
        }

        def gate(name, cell_state):
            # σ(W_* x^t + R_* y^{t-1} + p_* ⊙ c + b_*)
            if name in peephole:
                return self.recurrent_activation(
                    pre[name] + peephole[name] * cell_state
                )
            return self.recurrent_activation(pre[name])

        # i^t = σ(ī^t); NIG: i^t = 1
        i = gate("i", c_tm1) if spec.input_gate else ops.ones_like(c_tm1)
        # f^t = σ(f̄^t); CIFG: f^t = 1 - i^t; NFG: f^t = 1
        if spec.coupled_gates:
            f = 1.0 - i
        elif spec.forget_gate:
            f = gate("f", c_tm1)
        else:
            f = ops.ones_like(c_tm1)
        # z^t = g(z̄^t); NIAF: z^t = z̄^t
        z = self.activation(pre["z"]) if spec.input_activation else pre["z"]
        # c^t = z^t ⊙ i^t + c^{t-1} ⊙ f^t
        c = f * c_tm1 + i * z
        # o^t = σ(ō^t), whose peephole sees the new state c^t; NOG: o^t = 1
        o = gate("o", c) if spec.output_gate else ops.ones_like(c)
        # y^t = h(c^t) ⊙ o^t; NOAF: y^t = c^t ⊙ o^t
        y = o * (self.activation(c) if spec.output_activation else c)

        new_states = [y, c]
        if spec.recurrent_gates:
            current = {"i": i, "f": f, "o": o}
            new_states.append(
                ops.concatenate([current[g] for g in spec.recurrent_gates], -1)
            )
        return y, new_states, {"i": i, "f": f, "z": z, "o": o, "c": c, "y": y}

    def get_config(self):
        config = {
            "variant": self.variant,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
            "peephole_initializer": keras.initializers.serialize(
                self.peephole_initializer
            ),
            "peephole_regularizer": keras.regularizers.serialize(
                self.peephole_regularizer
            ),
            "peephole_constraint": keras.constraints.serialize(
                self.peephole_constraint
            ),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class LSTM(RNN):
    """Long Short-Term Memory layer, modern family (forget gate onwards).

    Runs `LSTMCell` of the chosen `variant` over a sequence. With the default
    variant "keras" it is `keras.layers.LSTM` (same weights, names, shapes,
    gate order and outputs, so `set_weights(keras_lstm.get_weights())`
    works); "vanilla" adds peepholes (Greff et al. 2017); the eight Greff
    variants change one part each. For the 1997 cell use
    `zoo.layers.OriginalLSTM`.

    Args:
        units: Positive integer, number of memory cells.
        variant: "keras" (default), "vanilla", "NIG", "NFG", "NOG", "NIAF",
            "NOAF", "NP", "CIFG" or "FGR"; see `LSTMCell`.
        use_cudnn: "auto" (default) or False, as `keras.layers.LSTM`
            takes it; both mean the zoo's own loop, as the zoo has no cuDNN
            path. True (cuDNN or an error, in Keras) raises `ValueError`.
        **kwargs: Every other argument of `LSTMCell` (activation, biases,
            initializers, regularizers, constraints, dropout, seed, Keras's
            legacy `implementation`), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`; False steps are skipped
            (state kept, previous output repeated).
        training: Whether dropout applies.
        initial_state: Optional list of initial states `[y, c]` (FGR adds
            the gate activations).

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(LSTM(4)(x).shape)
    (8, 4)
    >>> outputs, y, c = LSTM(4, variant="vanilla", return_sequences=True,
    ...                      return_state=True)(x)
    >>> [tuple(t.shape) for t in (outputs, y, c)]
    [(8, 10, 4), (8, 4), (8, 4)]
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(self, *args, use_cudnn="auto", **kwargs):
        check_use_cudnn(use_cudnn)
        super().__init__(*args, **kwargs)
        self.use_cudnn = use_cudnn

    @property
    def variant(self):
        return self.cell.variant

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}

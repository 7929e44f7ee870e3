"""What every zoo recurrent layer shares: the cell base and the layer base.

`RecurrentCell` holds the arguments every cell family takes (units, the
gates' activation, initializers, regularizers, constraints, dropout, seed)
and their serialization, so that `lstm.py`, `gru.py` and
`original_lstm.py` contain only what makes each family different: its
squashing functions, biases, weights and step equations.

`RNN` is `keras.layers.RNN` with the input checks a user expects (rank-3
input, a `(batch, time)` mask) and a flat `get_config()` (the cell's
arguments sit beside the layer's, as in `keras.layers.LSTM`). The time loop
is Keras's, run by every family through this one class; in TensorFlow graphs
at inference it is compiled by XLA (`xla_loop.py`), which is the zoo's
recurrence engine.
"""

import keras
from keras import ops

from zoo.compat import DropoutRNNCell  # a private Keras mixin: see zoo/compat.py
from zoo.layers import xla_loop

# Base-layer keys a cell's config carries that its layer sets for itself.
_CELL_ONLY_KEYS = ("name", "trainable", "dtype")
# Arguments of keras.layers.Layer that a zoo layer keeps for itself; all
# others go to its cell.
_LAYER_KEYS = (
    "name",
    "dtype",
    "trainable",
    "autocast",
    "activity_regularizer",
    "input_shape",
    "input_dim",
)


def check_positive_int(name, value):
    """Raises `ValueError` unless `value` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={value!r}"
        )


def check_rate(name, value):
    """Raises `ValueError` unless `value` is a float in [0, 1)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not 0.0 <= value < 1.0:
        raise ValueError(
            f"Argument `{name}` must be a float in [0, 1). "
            f"Received: {name}={value!r}"
        )


def check_use_cudnn(value):
    """Raises `ValueError` unless `value` is "auto" or False.

    `keras.layers.LSTM` and `GRU` take `use_cudnn` ("auto", True or False);
    the zoo's layers have no cuDNN path, which "auto" and False allow and
    True (cuDNN or an error, in Keras too) does not.
    """
    if not (value is False or (isinstance(value, str) and value == "auto")):
        raise ValueError(
            "Argument `use_cudnn` must be 'auto' or False: the zoo's layers "
            "have no cuDNN path (docs/layers.md). "
            f"Received: use_cudnn={value!r}"
        )


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of the zoo's cells: the arguments all families share.

    Subclasses add their weights in `build()`, their equations in `call()`,
    their own arguments (squashing functions, biases) to `get_config()`, and
    set `state_size`.

    Args:
        units: Positive integer, dimensionality of the output space.
        recurrent_activation: Activation of the gates (`sigmoid`).
        kernel_initializer: Initializer of the input weights `kernel`.
        recurrent_initializer: Initializer of the recurrent weights
            `recurrent_kernel`.
        bias_initializer: Initializer of the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Regularizers of those weights.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Constraints of those weights.
        dropout: Float in [0, 1): fraction of the inputs dropped. One mask
            per sequence, reused at every step (Gal & Ghahramani 2016).
        recurrent_dropout: Float in [0, 1): fraction of the recurrent
            state dropped, with one mask per sequence likewise.
        seed: Random seed for dropout.
    """

    def __init__(
        self,
        units,
        recurrent_activation="sigmoid",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        check_positive_int("units", units)
        check_rate("dropout", dropout)
        check_rate("recurrent_dropout", recurrent_dropout)
        super().__init__(**kwargs)
        self.units = units
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(
            recurrent_regularizer
        )
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.output_size = units

    # What `step` calls each state of a family that writes only `call`, in
    # `state_size` order (default: h, then state_1, state_2, ...).
    state_names = None

    def call(self, inputs, states, training=False):
        output, new_states, _ = self.step(inputs, states, training=training)
        return output, new_states

    def step(self, inputs, states, training=False):
        """One time step, and what happened inside it.

        A family writes its equations once, here or in `call`; the layer's
        loop runs `call`, and `zoo.diagnostics.trace` runs `step` to record
        the gates at every token.

        Returns:
            `(output, new_states, activations)`: `activations` maps the
            paper's names of the step's gates and states (e.g. "i", "f",
            "o", "c" of the LSTM) to `(batch, width)` tensors. A family that
            writes only `call` reports its states, named by `state_names`.
        """
        if type(self).call is RecurrentCell.call:
            raise NotImplementedError(
                f"{type(self).__name__} must define `call` or `step`."
            )
        output, new_states = self.call(inputs, states, training=training)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        names = self.state_names or ["h"] + [
            f"state_{k}" for k in range(1, len(new_states))
        ]
        return output, new_states, dict(zip(names, new_states))

    def add_kernel(self, input_dim, width):
        """The input weights W: `(input_dim, width)`."""
        return self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def add_recurrent_kernel(self, width, name="recurrent_kernel", rows=None):
        """Recurrent weights R: `(rows or units, width)`."""
        return self.add_weight(
            shape=(rows or self.units, width),
            name=name,
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def add_bias(self, shape, initializer=None, name="bias"):
        """A bias vector b."""
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def dropped_inputs(self, inputs, h_tm1, training):
        """Applies the per-sequence dropout masks to x(t) and h(t-1)."""
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            h_tm1 = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        return inputs, h_tm1

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": keras.initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": keras.regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": keras.regularizers.serialize(
                self.bias_regularizer
            ),
            "kernel_constraint": keras.constraints.serialize(
                self.kernel_constraint
            ),
            "recurrent_constraint": keras.constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": keras.constraints.serialize(
                self.bias_constraint
            ),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class RNN(keras.layers.RNN):
    """Base class of the zoo's recurrent layers.

    A family's layer names its cell class; the layer takes the cell's
    arguments and the RNN arguments below, builds the cell, and runs it over
    the sequence with Keras's time loop. `get_config()` returns the cell's
    arguments and the layer's in one flat dict, so `from_config` is
    `cls(**config)`.

    Args:
        *args, **kwargs: The arguments of `cell_class` (e.g. `units`,
            `variant`, initializers, dropout), and Keras's layer arguments
            (`name`, `dtype`, `trainable`, `activity_regularizer`).
        return_sequences: Whether to return the output at every step
            (`(batch, time, units)`) or only the last one (`(batch, units)`).
        return_state: Whether to return the final states after the output.
        go_backwards: Whether to process the sequence backwards and return
            the reversed sequence.
        stateful: Whether the last state of each sample in a batch is the
            initial state of that sample in the next batch (needs a static
            batch size; `reset_state()` zeroes it).
        unroll: Whether to unroll the time loop (static lengths only).
        zero_output_for_mask: Whether masked steps output zeros instead of
            repeating the previous output.
    """

    cell_class = None  # the family's cell, set by each subclass
    cell_name = None  # its name inside the layer, as in Keras ("lstm_cell")

    def __init__(
        self,
        *args,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        layer_kwargs = {k: kwargs.pop(k) for k in _LAYER_KEYS if k in kwargs}
        cell = self.cell_class(
            *args,
            dtype=layer_kwargs.get("dtype"),
            trainable=layer_kwargs.get("trainable", True),
            name=self.cell_name,
            **kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **layer_kwargs,
        )
        self.input_spec = keras.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if mask is not None:
            _check_mask(self.name, sequences, mask)
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        def loop(sequences, states):
            return super(RNN, self).inner_loop(
                sequences, states, mask, training=training
            )

        if xla_loop.compiles(self.unroll, training, sequences.shape[1]):
            return xla_loop.compiled_loop(
                loop, sequences, initial_state, self.cell.weights
            )
        return loop(sequences, initial_state)

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        config["activity_regularizer"] = keras.regularizers.serialize(
            self.activity_regularizer
        )
        cell_config = self.cell.get_config()
        for key in _CELL_ONLY_KEYS:
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_mask(layer_name, sequences, mask):
    """A mask must be `(batch, time)`, matching the sequences it masks."""
    mask_shape = tuple(mask.shape)
    expected = tuple(sequences.shape[:2])
    compatible = len(mask_shape) == 2 and all(
        m is None or e is None or m == e for m, e in zip(mask_shape, expected)
    )
    if not compatible:
        raise ValueError(
            f"Argument `mask` of layer '{layer_name}' must have shape "
            f"(batch, time) = {expected}, matching the input sequences. "
            f"Received: mask.shape={mask_shape}"
        )

"""What the gates do on each token: a recurrent layer run step by step, recorded.

Keras's RNN loop keeps only a layer's outputs and states. `trace_layer`
runs the same cell, with the same weights, in Keras's loop through its
`step` method (`zoo.layers.rnn.RecurrentCell.step`), and keeps what each
step computed: the gates and memory of the LSTM family (i, f, z, o, c, y),
the GRU (z, r, h_tilde, h), the 1997 LSTM (y_in, y_out, g, s_c, y_c), the
sLSTM and mLSTM, minGRU and minLSTM (a, b, h), and the states of every
other cell. The outputs are the layer's own (the tests hold them to it), so
a model can go on from a traced layer to its prediction, and a gradient of
that prediction says which units mattered (`unit_importance`).

Everything here is `keras.ops` on inference-mode cells (no dropout), so a
trace runs on every backend and exports as plain TensorFlow ops.
"""

import keras
from keras import ops

from zoo.layers.rnn import RecurrentCell


def trace_layer(layer, inputs, mask=None, initial_state=None):
    """Runs a recurrent layer over `inputs` and records every step.

    Args:
        layer: A zoo recurrent layer (`zoo.layers.LSTM`, `GRU`,
            `OriginalLSTM`, a catalogue cell's layer...) or a
            `keras.layers.Bidirectional` of one.
        inputs: `(batch, time, features)`.
        mask: Optional `(batch, time)` booleans, True at real steps. A
            masked step keeps the states, as in the layer; its activations
            are recorded as 0.
        initial_state: Optional list of the initial states (zeros by
            default); not for a bidirectional layer.

    Returns:
        `(sequence, last_output, final_states, activations)`: the layer's
        output at every step `(batch, time, units)` and at its last step
        (what `return_sequences=False` gives), its final states (forward
        then backward, as `return_state=True` gives them), and
        `{direction: {name: (batch, time, width)}}` in token order,
        direction "forward" and, for a bidirectional layer, "backward".
    """
    if isinstance(layer, keras.layers.Bidirectional):
        if initial_state is not None:
            raise ValueError(
                "Argument `initial_state` is not supported for a Bidirectional "
                f"layer. Received: initial_state for {layer.name!r}"
            )
        forward = _trace_direction(layer.forward_layer, inputs, mask)
        backward = _trace_direction(layer.backward_layer, inputs, mask)
        merge = layer.merge_mode
        return (
            _merge(merge, forward[0], backward[0]),
            _merge(merge, forward[1], backward[1]),
            forward[2] + backward[2],
            {"forward": forward[3], "backward": backward[3]},
        )
    sequence, last, states, activations = _trace_direction(layer, inputs, mask, initial_state)
    return sequence, last, states, {_direction(layer): activations}


def _direction(layer):
    return "backward" if layer.go_backwards else "forward"


def _merge(mode, forward, backward):
    if mode == "concat":
        return ops.concatenate([forward, backward], axis=-1)
    if mode == "sum":
        return forward + backward
    if mode == "ave":
        return (forward + backward) / 2
    if mode == "mul":
        return forward * backward
    raise ValueError(
        f"A traced Bidirectional layer must merge by 'concat', 'sum', 'ave' "
        f"or 'mul'. Received: merge_mode={mode!r}"
    )


class _Recorder(keras.layers.Layer):
    """A cell whose output is what `cell.step` computed at the step: the
    cell's output and each activation in `widths`, side by side, so that
    Keras's own loop (go_backwards, every backend) stacks them.

    Its input is x_t with a last column that is 1 at real steps and 0 at
    masked ones; a masked step keeps the states and repeats the last output
    (or gives zeros, `zero_output_for_mask`), as Keras's loop does with a
    mask, and records its activations as 0. The last output rides along as
    one more state.
    """

    def __init__(self, cell, widths, zero_output_for_mask, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.cell = cell
        self.widths = widths
        self.zero_output_for_mask = zero_output_for_mask
        self.state_size = list(cell.state_size) + [cell.output_size]
        self.output_size = cell.output_size + sum(widths.values())
        self.built = True  # the cell's weights are the recorder's

    def call(self, inputs, states, training=False):
        x, real = inputs[:, :-1], inputs[:, -1:] > 0.5
        *states, previous = states
        output, new_states, activations = self.cell.step(x, list(states), training=False)
        new_states = [ops.where(real, new, old) for new, old in zip(new_states, states)]
        last = ops.where(real, output, previous)
        emitted = ops.where(real, output, 0.0) if self.zero_output_for_mask else last
        parts = [emitted] + [ops.where(real, activations[name], 0.0) for name in self.widths]
        recorded = ops.concatenate([ops.cast(part, "float32") for part in parts], -1)
        return recorded, new_states + [last]


def _trace_direction(layer, inputs, mask, initial_state=None):
    cell = getattr(layer, "cell", None)
    if not isinstance(cell, RecurrentCell):
        raise ValueError(
            f"Argument `layer` must be a zoo recurrent layer or a Bidirectional "
            f"of one. Received: {type(layer).__name__} "
            f"(cell {type(cell).__name__ if cell is not None else None})"
        )
    batch_size = ops.shape(inputs)[0]
    if initial_state is None:
        initial_state = cell.get_initial_state(batch_size)
    initial_state = list(initial_state)
    # One step from the initial states names the activations and their widths.
    _, _, sample = cell.step(inputs[:, 0], initial_state, training=False)
    widths = {name: int(value.shape[-1]) for name, value in sample.items()}
    if mask is None:
        real = ops.ones(ops.shape(inputs)[:2], dtype=inputs.dtype)
    else:
        real = ops.cast(mask, inputs.dtype)
    loop = keras.layers.RNN(
        _Recorder(cell, widths, getattr(layer, "zero_output_for_mask", False)),
        return_sequences=True,
        return_state=True,
        go_backwards=layer.go_backwards,
    )
    previous = ops.zeros((batch_size, cell.output_size), dtype=cell.compute_dtype)
    recorded, *final_states = loop(
        ops.concatenate([inputs, real[..., None]], axis=-1),
        initial_state=initial_state + [previous],
    )
    *final_states, last = final_states
    if layer.go_backwards:  # put the backward steps in token order
        recorded = ops.flip(recorded, axis=1)
    parts = ops.split(recorded, _offsets([cell.output_size, *widths.values()]), axis=-1)
    sequence = ops.cast(parts[0], layer.compute_dtype)
    activations = dict(zip(widths, parts[1:]))
    return sequence, ops.cast(last, layer.compute_dtype), final_states, activations


def _offsets(widths):
    """Split points of blocks of `widths` laid side by side."""
    points, total = [], 0
    for width in widths[:-1]:
        total += width
        points.append(total)
    return points


def unit_importance(sequence, gradient, directions):
    """Gradient × activation per unit, summed over time: how much each
    unit's output moved the score (Shrikumar et al. 2016, Ancona et al. 2018).

    Args:
        sequence: A traced layer's outputs `(batch, time, units)`.
        gradient: ∂score/∂sequence, the same shape.
        directions: The layer's directions, e.g. ["forward", "backward"]:
            their outputs side by side (a concat-merged Bidirectional).

    Returns:
        `{direction: (batch, units_per_direction)}`, ≥ 0.
    """
    relevance = ops.sum(ops.abs(sequence * gradient), axis=1)
    return dict(zip(directions, ops.split(relevance, len(directions), axis=-1)))

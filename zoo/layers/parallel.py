"""Recurrent layers whose cell also has a whole-sequence form.

Some recurrences are linear in their state once the gates are known, and
their gates do not read the previous output: minGRU and minLSTM
(h_t = a_t ⊙ h_{t-1} + b_t, with a_t and b_t from x_t alone) and the mLSTM
of xLSTM (C_t = f_t C_{t-1} + i_t v_t k_tᵀ). Over a whole sequence such a
cell can compute every step at once, by a parallel scan or by a matrix of
decays between all pairs of steps, with no loop over time; step by step
(decoding, streaming with a stateful layer) the same cell runs its recurrent
form in Keras's loop like every other zoo layer.

`ParallelRNN` is the zoo's `RNN` with a `mode` argument that picks the form.
"parallel" hands the whole sequence to the cell's `parallel_call`;
"recurrent" runs the cell's `call` one step at a time. Both forms compute the
same function on the same weights, and everything around the time loop is
shared: masking (a masked step keeps the state and repeats the last output,
or outputs zeros with `zero_output_for_mask`), `go_backwards`, stateful use,
initial states, `return_sequences` / `return_state`, Bidirectional, and
input dropout with one mask per sequence.

A cell used by `ParallelRNN` implements, besides a `RecurrentCell`'s `call`:

    parallel_call(sequences, states, mask=None, training=False, mode=...)
        -> (outputs, new_states)

and keeps its output h_t as its first state (Keras's JAX loop takes the
first state for the previous output), with `sequences`
`(batch, time, features)` already reversed for
`go_backwards` and with input dropout applied, `states` the list of initial
states, and `mask` None or a boolean `(batch, time)`: the cell must leave
its state unchanged across masked steps; what it outputs there is replaced
here.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN


class ParallelRNN(RNN):
    """Base class of the zoo's layers with a whole-sequence form.

    Args:
        *args, **kwargs: The arguments of `RNN` (the cell's arguments and
            `return_sequences`, `return_state`, `go_backwards`, `stateful`,
            `unroll`, `zero_output_for_mask`, Keras's layer arguments).
        mode: "parallel" (default): the cell's whole-sequence form, for
            training and for reading whole sequences; "recurrent": the
            cell's step-by-step form in Keras's time loop. A subclass may
            offer more forms in `modes` (the mLSTM's "chunkwise").
            `unroll=True` implies the recurrent form.
    """

    modes = ("parallel", "recurrent")

    def __init__(self, *args, mode="parallel", **kwargs):
        if not (isinstance(mode, str) and mode in self.modes):
            raise ValueError(
                f"Argument `mode` must be one of {self.modes}. "
                f"Received: mode={mode!r}"
            )
        super().__init__(*args, **kwargs)
        self.mode = mode

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if self.mode == "recurrent" or self.unroll:
            return super().inner_loop(sequences, initial_state, mask, training)
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if training and self.cell.dropout > 0.0:
            # The mask Keras drew for this call, one per sequence (as the
            # recurrent form applies it at every step).
            dropout_mask = self.cell.get_dropout_mask(sequences[:, 0])
            sequences = sequences * ops.expand_dims(dropout_mask, 1)
        outputs, states = self.cell.parallel_call(
            sequences, list(initial_state), mask=mask, training=training, mode=self.mode
        )
        if mask is not None:
            outputs = hold_masked_outputs(
                outputs, mask, self.zero_output_for_mask, _output_before_first_step(initial_state)
            )
        return outputs[:, -1], outputs, list(states)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _output_before_first_step(initial_state):
    """What Keras's loop outputs at masked steps before the first real one.

    The TensorFlow backend outputs zeros there; the JAX backend repeats the
    first state tensor (taking it for the previous output). The parallel
    form does as the recurrent form on the same backend, so that `mode`
    never changes a result.
    """
    if keras.backend.backend() == "jax":
        return initial_state[0]
    return None


def hold_masked_outputs(outputs, mask, zero_output_for_mask=False, first_output=None):
    """Keras's masking of outputs: a masked step repeats the last real output.

    Args:
        outputs: `(batch, time, units)`, computed at every step.
        mask: Boolean `(batch, time)`, True at real steps.
        zero_output_for_mask: Output zeros at masked steps instead.
        first_output: `(batch, units)` output for masked steps before the
            first real one; zeros if None.

    Returns:
        `outputs` with each masked step replaced by the output of the
        latest real step before it (`first_output` before the first), or by
        zeros.
    """
    mask = ops.cast(mask, "bool")
    zeros = ops.zeros_like(outputs)
    if zero_output_for_mask:
        return ops.where(ops.expand_dims(mask, -1), outputs, zeros)
    steps = ops.arange(ops.shape(outputs)[1], dtype="int32")
    real_steps = ops.where(mask, ops.expand_dims(steps, 0), -1)
    # The index of the latest real step at or before each step.
    latest = prefix_scan(ops.maximum, real_steps, identity=-1)
    held = ops.take_along_axis(
        outputs, ops.expand_dims(ops.maximum(latest, 0), -1), axis=1
    )
    before = zeros if first_output is None else ops.expand_dims(first_output, 1) + zeros
    return ops.where(ops.expand_dims(latest >= 0, -1), held, before)


def prefix_scan(combine, elements, identity):
    """Inclusive scan of an associative `combine` along axis 1.

    `keras.ops.associative_scan` where the length is static (always on
    JAX). Where it is not (a TensorFlow graph traced for any length, as in
    an exported model), Keras's scan builds 48 nested levels of `tf.cond`
    and takes minutes to trace; there the same scan runs as a loop of
    ⌈log₂ T⌉ doublings (Hillis & Steele 1986): at shift d = 1, 2, 4, ...
    each step combines with the step d before it.

    Args:
        combine: `(earlier, later) -> combined`, associative, elementwise
            over everything but the scanned axis.
        elements: `(batch, time, ...)`.
        identity: What `combine` leaves unchanged as `earlier` (broadcast
            to `elements`): the step before the first.

    Returns:
        `(batch, time, ...)`: element t combines elements 0 ... t.
    """
    if elements.shape[1] is not None:
        scanned = ops.associative_scan(combine, elements, axis=1)
        # TensorFlow's scan loses the static rank in graphs; give it back.
        return ops.reshape(scanned, ops.shape(elements))
    steps = ops.shape(elements)[1]
    t = ops.reshape(ops.arange(steps), (1, -1) + (1,) * (len(elements.shape) - 2))

    def double(shift, scanned):
        earlier = ops.where(t >= shift, ops.roll(scanned, shift, axis=1), identity)
        return shift * 2, combine(earlier, scanned)

    _, scanned = ops.while_loop(
        lambda shift, _: shift < steps, double, (ops.convert_to_tensor(1), elements)
    )
    return scanned

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


def linear_scan(a, b, h_0, chunk_size):
    """h_t = a_t ⊙ h_{t-1} + b_t for every t, and its gradient, by blocked scans.

    The forward pass is `blocked_linear_scan`. So is the backward pass:
    with G_t = ∂L/∂h_t from above, the adjoint λ_t = ∂L/∂h_t in total
    follows the same recurrence backwards in time,

        λ_t = G_t + a_{t+1} ⊙ λ_{t+1}      (λ_T = G_T)

    and ∂L/∂b_t = λ_t, ∂L/∂a_t = λ_t ⊙ h_{t-1}, ∂L/∂h_0 = a_1 ⊙ λ_1: one
    more scan and a few products, where differentiating the scan's own
    loop would take several times the forward pass's operations.

    Args:
        a, b: `(batch, time, units)`.
        h_0: `(batch, units)`.
        chunk_size: Positive integer, the chunk length of the scans.

    Returns:
        `(batch, time, units)`: h_1, ..., h_T.
    """

    @ops.custom_gradient
    def scan(a, b, h_0):
        h = blocked_linear_scan(a, b, h_0, chunk_size)

        def gradient(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            # λ_t = G_t + a_{t+1} ⊙ λ_{t+1}, as a forward scan of the
            # reversed sequence from λ = 0 after the last step.
            a_next = ops.concatenate([a[:, 1:], ops.ones_like(a[:, :1])], axis=1)
            adjoint = ops.flip(
                blocked_linear_scan(
                    ops.flip(a_next, axis=1),
                    ops.flip(upstream, axis=1),
                    ops.zeros_like(h_0),
                    chunk_size,
                ),
                axis=1,
            )
            h_previous = ops.concatenate([ops.expand_dims(h_0, 1), h[:, :-1]], axis=1)
            return adjoint * h_previous, adjoint, a[:, 0] * adjoint[:, 0]

        return h, gradient

    return scan(a, b, h_0)


def blocked_linear_scan(a, b, h_0, chunk_size):
    """h_t = a_t ⊙ h_{t-1} + b_t for every t, chunk by chunk, in linear space.

    The time axis is cut into N chunks of L = `chunk_size` steps. One loop of
    L steps runs the recurrence inside every chunk at once, from a zero
    state, and keeps the decay since the chunk began:

        u_t = a_t ⊙ u_{t-1} + b_t,   p_t = a_t ⊙ p_{t-1}    (u = 0, p = 1 at each chunk's start)

    A chunk as a whole is then one step (a = p_L, b = u_L) of the same
    recurrence over chunks, solved the same way (N ≤ L: one loop of N
    steps); and with H the state entering a chunk, h_t = u_t + p_t ⊙ H. So
    T steps take about L + T / L sequential steps (64 at T = 1,000 and
    L = 32), each over the whole batch of chunks: a blocked scan (Blelloch
    1990), in the multiply-adds of the recurrence itself, so with no
    logarithm and its precision. In a graph traced for an unknown length,
    the recurrence over chunks runs as a doubling scan (`prefix_scan`).

    Args:
        a: `(batch, time, units)`, any values (a masked step: 1).
        b: `(batch, time, units)` (a masked step: 0).
        h_0: `(batch, units)`, the state before the first step.
        chunk_size: Positive integer L.

    Returns:
        `(batch, time, units)`: h_1, ..., h_T.
    """
    steps = a.shape[1]
    if steps is not None and steps <= chunk_size:
        h, outputs = h_0, []
        for a_t, b_t in zip(ops.unstack(a, axis=1), ops.unstack(b, axis=1)):
            h = a_t * h + b_t
            outputs.append(h)
        return ops.stack(outputs, axis=1)
    # Pad to whole chunks with steps that keep the state (a = 1, b = 0).
    length = ops.shape(a)[1]
    padding = (-length) % chunk_size
    a = ops.pad(a, [[0, 0], [0, padding], [0, 0]], constant_values=1.0)
    b = ops.pad(b, [[0, 0], [0, padding], [0, 0]])
    batch, units = ops.shape(a)[0], a.shape[2]
    chunks = None if steps is None else (steps + padding) // chunk_size
    shape = (batch, -1 if chunks is None else chunks, chunk_size, units)
    a, b = ops.reshape(a, shape), ops.reshape(b, shape)
    # Inside every chunk at once: u_t (from zero) and p_t (from one).
    u = ops.zeros_like(a[:, :, 0])
    p = ops.ones_like(u)
    within, decay = [], []
    for a_t, b_t in zip(ops.unstack(a, axis=2), ops.unstack(b, axis=2)):
        u = a_t * u + b_t
        p = a_t * p
        within.append(u)
        decay.append(p)
    # The state at the end of each chunk, then the state entering each.
    if chunks is None:
        ends = _linear_prefix_scan(p, u, h_0)
    else:
        ends = blocked_linear_scan(p, u, h_0, chunk_size)
    entering = ops.concatenate([ops.expand_dims(h_0, 1), ends[:, :-1]], axis=1)
    # h_t = u_t + p_t ⊙ H
    h = ops.stack(within, axis=2) + ops.stack(decay, axis=2) * ops.expand_dims(entering, 2)
    return ops.reshape(h, (batch, -1, units))[:, :length]


def _linear_prefix_scan(a, b, h_0):
    """`linear_scan` of any length by `prefix_scan` of the pairs (a, b):
    (a_1, b_1) then (a_2, b_2) is (a_1 a_2, a_2 b_1 + b_2)."""

    def compose(earlier, later):
        a_1, b_1 = ops.unstack(earlier, 2, axis=-1)
        a_2, b_2 = ops.unstack(later, 2, axis=-1)
        return ops.stack([a_1 * a_2, a_2 * b_1 + b_2], axis=-1)

    identity = ops.stack([ops.ones_like(a), ops.zeros_like(b)], axis=-1)
    scanned = prefix_scan(compose, ops.stack([a, b], axis=-1), identity)
    a_star, b_star = ops.unstack(scanned, 2, axis=-1)
    return a_star * ops.expand_dims(h_0, 1) + b_star

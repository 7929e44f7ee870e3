"""minGRU and minLSTM: Feng et al. 2024, the GRU and LSTM with gates of x_t only.

Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We Needed?"
(arXiv:2410.01201, 2024). The paper strips the GRU and the LSTM until their
gates and candidate state read the input x_t alone, never h_{t-1}; the state
then follows a linear recurrence h_t = a_t ⊙ h_{t-1} + b_t whose a_t and b_t
are known for every t at once, so a whole sequence is computed by a parallel
scan instead of backpropagation through time (Section 3). minGRU:

    z_t = σ(Linear_z(x_t))                            update gate
    h̃_t = g(Linear_h(x_t))                            candidate
    h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t      a_t = 1 - z_t, b_t = z_t ⊙ h̃_t

minLSTM, whose forget and input gates are normalised so that the scale of
h_t does not depend on t:

    f_t = σ(Linear_f(x_t)),  i_t = σ(Linear_i(x_t))    forget, input gates
    h̃_t = g(Linear_h(x_t))                            candidate
    f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
    h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t          a_t = f'_t, b_t = i'_t ⊙ h̃_t

with the paper's positive activation g (Appendix B, so that b_t > 0 has a
logarithm): g(x) = x + 0.5 for x ≥ 0 and σ(x) for x < 0, whose logarithm is
log(x + 0.5) and -softplus(-x). Linear_·(x) = W_· x + b_·.

Three forms of one function (`mode` of `ParallelRNN`):

- "recurrent": the equations above, one step at a time (decoding,
  streaming).
- "chunkwise" (default): the same multiply-adds h_t = a_t ⊙ h_{t-1} + b_t,
  reordered into a blocked scan (`linear_scan`): one loop of `chunk_size`
  steps runs inside every chunk at once, a short one joins the chunks, and
  the backward pass is the same scan run backwards in time. In linear
  space there is no logarithm to lose precision to and nothing to
  overflow (a_t ∈ (0, 1)); on a CPU it trained 13 times faster than the
  log-space scan and 2.5 times faster than the zoo's compiled GRU at
  T = 1000 (docs/benchmarks.md), which is why it is the default here.
- "parallel": every step at once by the log-space scan of Heinsen
  (2023, "Efficient Parallelization of a Ubiquitous Sequential
  Computation", arXiv:2311.06281), the paper's Appendix B. With
  a*_t = Σ_{k≤t} log a_k:

      h_t = exp(a*_t) ⊙ h_0 + exp(a*_t + logcumsumexp_{k≤t}(log b_k - a*_k))

  from log-space gates that never form a_t or b_t (k_· = Linear_·(x_t)):
  minGRU: log a_t = log(1 - z_t) = -softplus(k_z), log z_t = -softplus(-k_z);
  minLSTM: with d_t = softplus(-k_f) - softplus(-k_i) = log(i_t / f_t),
  log f'_t = -log(1 + i_t/f_t) = -softplus(d_t) and
  log i'_t = -log(1 + f_t/i_t) = -softplus(-d_t).
  The second term is log Σ_{k≤t} b_k Π_{k<j≤t} a_j, which the zoo takes by
  one associative scan of logaddexp over the pairs (log a_t, log b_t)
  (`parallel_scan_log`): the same quantity, but each Π_{k<j≤t} a_j is
  summed over its own steps, not taken as the difference a*_t - a*_k of
  two large sums, which in float32 costs about |a*_t| · 6e-8 of log h_t
  (measured: 5e-4 after 2,000 steps of ordinary forgetting, against 1e-6
  for the pairs). No shift by a maximum over the whole sequence (it
  underflows on long sequences). In TensorFlow graphs traced for an
  unknown length (exported models) the same scan runs as ⌈log₂ T⌉
  doublings (`scan_pairs`). The scan runs in float32 under every
  precision policy, cast back after. A masked step keeps the state: a = 1
  and b = 0 (log b a large negative finite number, so gradients stay
  finite).

Where the zoo differs from the paper, and why:

- The initial state h_0 enters the scan in its own linear term (above), not
  as log g(h_0) at step 0 as in the paper's Appendix B code: the paper's
  code thereby starts from g(h_0), not h_0, and needs it positive; here h_0
  of any sign, e.g. a state a stateful layer carries over or a user's
  `initial_state`, continues exactly as the recurrent form does, and the
  zero state (the default) is the paper's empty start.
- The layer is the recurrence alone. The paper's models wrap it as modern
  recurrent models do, stacking blocks with normalisation, residual
  connections and an MLP around each minRNN (and, in lucidrains'
  minGRU-pytorch, an optional `expansion_factor` with an output
  projection); build those around the layer with Keras layers.
- No `recurrent_dropout`: no weight reads h_{t-1}, so there is no recurrent
  input to drop; a value > 0 is an error. `dropout` drops x_t with one mask
  per sequence, in both forms. `recurrent_activation` must be sigmoid (the
  log-space form is built on log σ(k) = -softplus(-k));
  `recurrent_initializer`, `recurrent_regularizer` and
  `recurrent_constraint` are accepted, kept in the config, and unused.

Weights: `kernel` (input_dim, 2·units) with blocks [z, h̃] for minGRU and
(input_dim, 3·units) with blocks [f, i, h̃] for minLSTM; `bias` (2·units,)
or (3·units,) in the same order (absent with `use_bias=False`). From the
paper's reference code (PyTorch `nn.Linear` modules `linear_z`, `linear_h`,
or `linear_f`, `linear_i`, `linear_h`, each `weight` (units, input_dim)):
kernel = [linear_z.weight.T, linear_h.weight.T] along the last axis, bias
likewise. lucidrains' minGRU-pytorch fuses them without biases
(`use_bias=False` here) in the other order: `to_hidden_and_gate.weight`
(2·units, input_dim) holds [h̃; z] by rows, so kernel =
[W[units:].T, W[:units].T]; for minLSTM `to_hidden_and_f_i_gate.weight`
holds [h̃; f; i], so kernel = [W[units:2·units].T, W[2·units:].T,
W[:units].T]. (There too a given previous hidden state enters the
parallel form as log g(h_0).)
"""

import keras
from keras import ops

from zoo.layers.parallel import ParallelRNN, linear_scan, prefix_scan
from zoo.layers.rnn import RecurrentCell, check_positive_int

# log b at a masked step: b = 0 without -inf, whose gradients are NaN.
LOG_ZERO = -1e30


def g(x):
    """The paper's positive activation: x + 0.5 for x ≥ 0, σ(x) below."""
    return ops.where(x >= 0, x + 0.5, ops.sigmoid(x))


def log_g(x):
    """log g(x), from finite branches: log(x + 0.5) and -softplus(-x)."""
    return ops.where(x >= 0, ops.log(ops.relu(x) + 0.5), -ops.softplus(-x))


def parallel_scan_log(log_a, log_b, h_0, mask=None):
    """h_t = a_t ⊙ h_{t-1} + b_t for every t at once, in log space.

    Heinsen's (2023) solution h_t = exp(a*_t) ⊙ h_0 + exp(log h^b_t), with
    a*_t = Σ_{k≤t} log a_k and
    log h^b_t = a*_t + logcumsumexp_{k≤t}(log b_k - a*_k)
              = log Σ_{k≤t} b_k Π_{k<j≤t} a_j,
    computed as one associative scan over the pairs (log a_t, log b_t):
    two consecutive steps compose as
    (log a_1, log b_1) then (log a_2, log b_2)
    = (log a_1 + log a_2, logaddexp(log b_1 + log a_2, log b_2)),
    the log of h ↦ a_2 (a_1 h + b_1) + b_2. The scan adds up each
    Π_{k<j≤t} a_j over its own steps instead of taking it as
    a*_t - a*_k, a difference of two large sums that in float32 loses
    about |a*_t| · 6e-8 of log h (about 1e-4 after 2,000 steps of ordinary
    forgetting); no shift by a maximum over the sequence, which underflows.

    Args:
        log_a: `(batch, time, units)`, log a_t (a_t in (0, 1]).
        log_b: `(batch, time, units)`, log b_t (b_t > 0).
        h_0: `(batch, units)`, the state before the first step, any sign.
        mask: None or boolean `(batch, time)`; a masked step keeps the
            state (a = 1, b = 0).

    Returns:
        `(batch, time, units)`: h_1, ..., h_T.
    """
    if mask is not None:
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        log_a = ops.where(keep, log_a, 0.0)
        log_b = ops.where(keep, log_b, LOG_ZERO)

    # a*_t = Σ_{k≤t} log a_k and log h^b_t = log Σ_{k≤t} b_k Π_{k<j≤t} a_j
    pairs = ops.stack([log_a, log_b], axis=-1)
    a_star, log_h_b = ops.unstack(scan_pairs(pairs), 2, axis=-1)
    # h_t = exp(a*_t) ⊙ h_0 + exp(log h^b_t)
    return ops.exp(a_star) * ops.expand_dims(h_0, 1) + ops.exp(log_h_b)


def compose(earlier, later):
    """Two consecutive steps (log a_1, log b_1) then (log a_2, log b_2), as
    one: (log a_1 + log a_2, logaddexp(log b_1 + log a_2, log b_2)).

    The pairs travel as one tensor's last axis, `(..., 2)`.
    """
    log_a_1, log_b_1 = ops.unstack(earlier, 2, axis=-1)
    log_a_2, log_b_2 = ops.unstack(later, 2, axis=-1)
    return ops.stack(
        [log_a_1 + log_a_2, ops.logaddexp(log_b_1 + log_a_2, log_b_2)], axis=-1
    )


def scan_pairs(pairs):
    """Inclusive scan of `compose` along axis 1 of `(batch, time, units, 2)`."""
    # The step before the first: a = 1, b = 0.
    identity = ops.stack(
        [ops.zeros_like(pairs[..., 0]), ops.full_like(pairs[..., 1], LOG_ZERO)],
        axis=-1,
    )
    return prefix_scan(compose, pairs, identity)


class MinRNNCell(RecurrentCell):
    """What minGRU and minLSTM share: one input projection, and the scan.

    A subclass names its `blocks` (the kernel's blocks, in order) and gives
    its step (`call`) and its log-space coefficients (`log_coefficients`).
    """

    blocks = ()

    def __init__(
        self, units, use_bias=True, chunk_size=32, recurrent_activation="sigmoid", **kwargs
    ):
        check_positive_int("chunk_size", chunk_size)
        if keras.activations.get(recurrent_activation) is not keras.activations.sigmoid:
            raise ValueError(
                f"Argument `recurrent_activation` must be 'sigmoid' for "
                f"{type(self).__name__}: its log-space form uses "
                f"log σ(k) = -softplus(-k). "
                f"Received: recurrent_activation={recurrent_activation!r}"
            )
        if not isinstance(use_bias, bool):
            raise ValueError(
                "Argument `use_bias` must be True or False. "
                f"Received: use_bias={use_bias!r}"
            )
        super().__init__(units, recurrent_activation=recurrent_activation, **kwargs)
        if self.recurrent_dropout > 0.0:
            raise ValueError(
                f"Argument `recurrent_dropout` must be 0 for "
                f"{type(self).__name__}: its gates and candidate read x_t "
                f"only, so there is no recurrent input to drop. "
                f"Received: recurrent_dropout={self.recurrent_dropout!r}"
            )
        self.use_bias = use_bias
        self.chunk_size = chunk_size
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        width = len(self.blocks) * self.units
        self.kernel = self.add_kernel(input_shape[-1], width)
        self.bias = self.add_bias((width,)) if self.use_bias else None

    def linear(self, x):
        """Linear_·(x) = W_· x + b_· for every block, split in block order."""
        k = ops.matmul(x, self.kernel)
        if self.use_bias:
            k = k + self.bias
        return ops.split(k, len(self.blocks), axis=-1)

    def coefficients(self, k):
        """(a_t, b_t) of h_t = a_t ⊙ h_{t-1} + b_t from Linear_·(x_t)."""
        raise NotImplementedError

    def log_coefficients(self, k):
        """(log a_t, log b_t), the same from finite log-space branches."""
        raise NotImplementedError

    def step(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, _ = self.dropped_inputs(inputs, h_tm1, training)
        a, b = self.coefficients(self.linear(x))
        # h_t = a_t ⊙ h_{t-1} + b_t
        h = a * h_tm1 + b
        # a_t: the share of h_{t-1} kept; b_t: what x_t writes.
        return h, [h], {"a": a, "b": b, "h": h}

    def parallel_call(self, sequences, states, mask=None, training=False, mode="parallel"):
        # Dropout, go_backwards and the outputs at masked steps are the
        # layer's (ParallelRNN); the scans run in float32 under any policy.
        k = [ops.cast(block, "float32") for block in self.linear(sequences)]
        h_0 = ops.cast(states[0], "float32")
        if mode == "chunkwise":
            a, b = self.coefficients(k)
            if mask is not None:  # a masked step keeps the state: a = 1, b = 0
                keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
                a, b = ops.where(keep, a, 1.0), ops.where(keep, b, 0.0)
            h = linear_scan(a, b, h_0, self.chunk_size)
        else:
            log_a, log_b = self.log_coefficients(k)
            h = parallel_scan_log(log_a, log_b, h_0, mask)
        h = ops.cast(h, self.compute_dtype)
        return h, [h[:, -1]]

    def get_config(self):
        return {
            **super().get_config(),
            "use_bias": self.use_bias,
            "chunk_size": self.chunk_size,
        }


@keras.saving.register_keras_serializable(package="zoo")
class MinGRUCell(MinRNNCell):
    """Cell of minGRU (Feng et al. 2024): one step, and the whole-sequence forms.

    Args:
        units: Positive integer, dimensionality of the state h.
        use_bias: Whether Linear_z and Linear_h have biases (True, as in
            the paper's code; False for lucidrains' minGRU-pytorch).
        chunk_size: Positive integer, the chunk length of the "chunkwise"
            form (default 32).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of z; must be sigmoid),
            `kernel_initializer`, `bias_initializer`, their regularizers and
            constraints, `dropout` (of x_t), `seed`; `recurrent_dropout`
            must be 0 (no weight reads h_{t-1}); the `recurrent_*`
            initializer, regularizer and constraint are unused. And Keras's
            layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MinGRUCell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    blocks = ("z", "h")

    def coefficients(self, k):
        k_z, k_h = k
        # z_t = σ(Linear_z(x_t))
        z = self.recurrent_activation(k_z)
        # h̃_t = g(Linear_h(x_t))
        h_tilde = g(k_h)
        # h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t: a_t = 1 - z_t, b_t = z_t ⊙ h̃_t
        return 1.0 - z, z * h_tilde

    def log_coefficients(self, k):
        k_z, k_h = k
        # log a_t = log(1 - z_t) = log σ(-k_z) = -softplus(k_z)
        log_a = -ops.softplus(k_z)
        # log b_t = log z_t + log h̃_t = -softplus(-k_z) + log g(k_h)
        log_b = -ops.softplus(-k_z) + log_g(k_h)
        return log_a, log_b


@keras.saving.register_keras_serializable(package="zoo")
class MinLSTMCell(MinRNNCell):
    """Cell of minLSTM (Feng et al. 2024): one step, and the whole-sequence forms.

    Args:
        units: Positive integer, dimensionality of the state h.
        use_bias: Whether Linear_f, Linear_i and Linear_h have biases (True,
            as in the paper's code; False for lucidrains' minGRU-pytorch).
        chunk_size: Positive integer, the chunk length of the "chunkwise"
            form (default 32).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of f and i; must be sigmoid),
            `kernel_initializer`, `bias_initializer`, their regularizers and
            constraints, `dropout` (of x_t), `seed`; `recurrent_dropout`
            must be 0 (no weight reads h_{t-1}); the `recurrent_*`
            initializer, regularizer and constraint are unused. And Keras's
            layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MinLSTMCell(4), return_sequences=True)
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 5, 4)
    """

    blocks = ("f", "i", "h")

    def coefficients(self, k):
        k_f, k_i, k_h = k
        # f_t = σ(Linear_f(x_t)), i_t = σ(Linear_i(x_t))
        f = self.recurrent_activation(k_f)
        i = self.recurrent_activation(k_i)
        # h̃_t = g(Linear_h(x_t))
        h_tilde = g(k_h)
        # f'_t = f_t / (f_t + i_t), i'_t = i_t / (f_t + i_t)
        f_prime = f / (f + i)
        i_prime = i / (f + i)
        # h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t: a_t = f'_t, b_t = i'_t ⊙ h̃_t
        return f_prime, i_prime * h_tilde

    def log_coefficients(self, k):
        k_f, k_i, k_h = k
        # d_t = log(i_t / f_t) = softplus(-k_f) - softplus(-k_i)
        d = ops.softplus(-k_f) - ops.softplus(-k_i)
        # log a_t = log f'_t = -log(1 + i_t/f_t) = -softplus(d_t)
        log_a = -ops.softplus(d)
        # log b_t = log i'_t + log h̃_t = -softplus(-d_t) + log g(k_h)
        log_b = -ops.softplus(-d) + log_g(k_h)
        return log_a, log_b


class MinRNN(ParallelRNN):
    """What the minGRU and minLSTM layers share: their three forms."""

    modes = ("parallel", "chunkwise", "recurrent")

    def __init__(self, *args, mode="chunkwise", **kwargs):
        super().__init__(*args, mode=mode, **kwargs)

    @property
    def chunk_size(self):
        return self.cell.chunk_size


@keras.saving.register_keras_serializable(package="zoo")
class MinGRU(MinRNN):
    """minGRU layer (Feng et al. 2024): chunkwise, parallel or recurrent.

    Runs `MinGRUCell` over a sequence: by default by the blocked scan, with
    `mode="parallel"` by the log-space parallel scan, with
    `mode="recurrent"` one step at a time. All three give the same outputs,
    states and gradients on the same weights.

    Args:
        units: Positive integer, dimensionality of the state.
        mode: "chunkwise" (default; the blocked scan), "parallel" (the
            paper's log-space scan) or "recurrent" (see `ParallelRNN`).
        use_bias: Whether the projections have biases.
        chunk_size: Chunk length of the "chunkwise" form (default 32).
        **kwargs: Every other argument of `MinGRUCell` (initializers,
            regularizers, constraints, `dropout`, `seed`), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`, of any sign.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(MinGRU(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = MinGRUCell
    cell_name = "min_gru_cell"


@keras.saving.register_keras_serializable(package="zoo")
class MinLSTM(MinRNN):
    """minLSTM layer (Feng et al. 2024): chunkwise, parallel or recurrent.

    Runs `MinLSTMCell` over a sequence: by default by the blocked scan, with
    `mode="parallel"` by the log-space parallel scan, with
    `mode="recurrent"` one step at a time. All three give the same outputs,
    states and gradients on the same weights.

    Args:
        units: Positive integer, dimensionality of the state.
        mode: "chunkwise" (default; the blocked scan), "parallel" (the
            paper's log-space scan) or "recurrent" (see `ParallelRNN`).
        use_bias: Whether the projections have biases.
        chunk_size: Chunk length of the "chunkwise" form (default 32).
        **kwargs: Every other argument of `MinLSTMCell` (initializers,
            regularizers, constraints, `dropout`, `seed`), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`, of any sign.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> output, h = MinLSTM(4, mode="recurrent", return_state=True)(x)
    >>> tuple(output.shape), tuple(h.shape)
    ((8, 4), (8, 4))
    """

    cell_class = MinLSTMCell
    cell_name = "min_lstm_cell"

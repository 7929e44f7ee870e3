"""mLSTM: the matrix-memory LSTM of xLSTM, in parallel, chunkwise and recurrent form.

Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer, Brandstetter &
Hochreiter, "xLSTM: Extended Long Short-Term Memory" (NeurIPS 2024,
arXiv:2405.04517), Section 2.3 and the Appendix (parallel formulation,
stabilization). The mLSTM widens the LSTM's scalar cell into a d×d matrix
memory C that stores key-value pairs (v_t, k_t) by the covariance update
rule and is read by a query q_t; exponential input gating lets it revise
what it stored. No gate reads h_{t-1} (no memory mixing), so the whole
sequence can be computed at once, like linear attention with decays.

Per head (`num_heads` heads of d = units / num_heads units each), with
`W_*` input weights and `b_*` biases:

    q_t = W_q x_t + b_q                                        query
    k_t = (1/√d) W_k x_t + b_k                                 key
    v_t = W_v x_t + b_v                                        value
    ĩ_t = w_iᵀ x_t + b_i,   i_t = exp(ĩ_t)                     input gate (scalar)
    f̃_t = w_fᵀ x_t + b_f,   f_t = σ(f̃_t)  or  exp(f̃_t)         forget gate (scalar)
    o_t = σ(W_o x_t + b_o)                                     output gate (vector)
    C_t = f_t C_{t-1} + i_t v_t k_tᵀ                           matrix memory, d×d
    n_t = f_t n_{t-1} + i_t k_t                                normalizer, d
    h̃_t = C_t q_t / max(|n_tᵀ q_t|, 1),   h_t = o_t ⊙ h̃_t

`forget_gate` chooses f_t: "sigmoid" (default, the paper's language
models) or "exponential".

Stabilization (Appendix). exp overflows, so C and n are stored scaled by
exp(-m_t), with a stabilizer state m per head:

    m_t  = max(log f_t + m_{t-1}, ĩ_t)
    i'_t = exp(ĩ_t - m_t),   f'_t = exp(log f_t + m_{t-1} - m_t)
    C'_t = f'_t C'_{t-1} + i'_t v_t k_tᵀ,   n'_t = f'_t n'_{t-1} + i'_t k_t
    h̃_t = C'_t q_t / max(|n'_tᵀ q_t|, exp(-m_t))

which is exactly h̃_t of the unscaled equations (numerator and both sides
of the max are scaled by exp(-m_t)). log σ(f̃) is computed as
-softplus(-f̃), finite for every f̃.

Three forms of one function (`mode` of `ParallelRNN`):

- "recurrent": the stabilized step above, one step at a time in Keras's
  loop (decoding, streaming with a stateful layer).
- "parallel" (default): all T steps at once. With the T×T matrix of log
  weights D_ts = Σ_{k=s+1..t} log f_k + ĩ_s for s ≤ t (none above the
  diagonal), the row maximum m_t = max(max_s D_ts, Σ_{k≤t} log f_k + m_0)
  (which is the recurrent m_t, unrolled), and C̃ = (Q Kᵀ) ⊙ exp(D - m):

      h̃_t = (Σ_s C̃_ts v_s + w_t C'_0 q_t) / max(|Σ_s C̃_ts + w_t n'_0ᵀ q_t|, exp(-m_t))

  where w_t = exp(Σ_{k≤t} log f_k + m_0 - m_t) weighs the initial state
  (C'_0, n'_0, m_0), so that the parallel form continues a state exactly as
  the recurrent one does; row T gives the final state (C'_T, n'_T, m_T).
  Each Σ_{k=s+1..t} log f_k is summed over its own steps (a cumulative sum
  of a masked T×T matrix), not taken as the difference of two long
  cumulative sums, which loses precision in float32. Memory O(T²).
- "chunkwise": the parallel form inside chunks of `chunk_size` steps, the
  state (C', n', m) carried from chunk to chunk by a loop
  (`keras.ops.scan`), the sequence padded with masked steps to a multiple
  of `chunk_size`. Memory O(T · chunk_size).

A masked step keeps the state: log f = 0 and ĩ = -∞ there (a large
negative finite number, so that gradients stay finite), and its weights
are set to zero.

The empty state. The zero state (C' = 0, n' = 0) holds no memory yet, so
its stabilizer is m = log 0 = -∞, whatever m it carries: wherever a head's
C' and n' are both zero the cell takes m_{t-1} = -∞ (its m does not change
the function, since C = exp(m) C' = 0), so the first real step gives
m_t = ĩ_t and i'_t = 1. The paper's m_0 = 0 gives the same h in exact
arithmetic but not in float32: with an exponential forget gate and
f̃ ≈ +100, m_t = 100 t outgrows every ĩ_s and i'_t underflows to 0, so
nothing is ever stored (and h = 0/0). It is also what the official
parallel form does (its row maximum runs over the steps alone). Where no
real step and no memory came before, the returned m is the initial one,
as the recurrent form keeps it. The lower bound exp(-m_t) is taken as
exp(min(-m_t, 80)): it overflows float32 for m_t < -88, and there it
changes h̃ by less than |C'q| e^{-80}.

Precision. The exp/log parts (gates, stabilizer, decay matrix, state
update) are computed in float32 under every precision policy, and cast
back to the policy's dtype after; the states are stored in that dtype.

Weight layout (units run head by head: unit k of head h is at index
h d + k; `get_weights()` returns them in this order):

- `kernel`: `(input_dim, 3 * units)`, blocks [W_q, W_k, W_v] (W_k before
  the 1/√d scaling, which the cell applies).
- `bias`: `(3 * units,)`, blocks [b_q, b_k, b_v] (if `use_bias`).
- `gate_kernel`: `(input_dim, 2 * num_heads)`, blocks [w_i, w_f], one
  column per head.
- `gate_bias`: `(2 * num_heads,)`, blocks [b_i, b_f] (if `use_bias`).
- `output_gate_kernel`: `(input_dim, units)`, W_o.
- `output_gate_bias`: `(units,)`, b_o (if `use_bias`).

The state list is [h (units), C' (num_heads · d · d), n' (units),
m (num_heads)], h first; C' is flattened head by head, then row i (the
value index), then column j (the key index): C'[h, i, j] = v_i k_j.

Porting from the official package (github.com/NX-AI/xlstm,
`xlstm/blocks/mlstm`): its `mLSTMCell` receives q, k, v already projected
by the `mLSTMLayer` around it, and is the recurrence plus a per-head layer
norm (`outnorm`). The layer's projections are block-diagonal
(`LinearHeadwiseExpand`, blocks of `qkv_proj_blocksize`), and q, k read the
causally convolved, SiLU-activated input c = SiLU(conv(x_m)) while v reads
x_m itself. Feeding this cell the concatenation [c, x_m] (2·D features,
D the inner width) ports it exactly: `kernel` takes `q_proj`'s and
`k_proj`'s blocks (transposed) on the rows of c and `v_proj`'s on the
rows of x_m, zeros elsewhere (the official k is divided by √d in the cell
as here; its bias too, so b_k = b_k,official / √d). Its gates `igate`,
`fgate` are `nn.Linear(3 D, num_heads)` on [q, k, v]; being linear in q,
k, v, they are linear in [c, x_m]: the column of head h of w_i is
(W_ig[h, :D] W_q + W_ig[h, D:2D] W_k) on the rows of c and
W_ig[h, 2D:] W_v on the rows of x_m (W_q, W_k, W_v the dense block-diagonal
projection matrices), likewise w_f from `fgate`; `gate_bias` =
[igate.bias, fgate.bias] (plus the projections' biases through W_ig, if
any). The official cell has no output gate (the paper's o_t): its layer
multiplies by SiLU of a second branch z instead, so set
`output_gate_kernel` = 0 and `output_gate_bias` = 30 (σ(30) = 1 in
float32); the layer norm per head, the learnable skip, the z branch, the
up and down projections and the convolution belong to the official block,
not to this cell, and are built around the layer with Keras layers. Its
state (c, n, m) of shapes (B, NH, DH, DH), (B, NH, DH, 1), (B, NH, 1, 1)
holds k vᵀ, the transpose of this cell's C: C' = c.transpose(0, 1, 3, 2)
flattened. It adds eps = 1e-6 to the denominator, which the paper and this
cell do not; its recurrent step starts from m_0 = 0 (see "The empty
state"). Its initialization: gate weights zero, forget-gate biases
linspace(3, 6) over the heads, input-gate biases N(0, 0.1); the zoo's
defaults are Keras's (glorot_uniform kernels, zero biases).

Differences from the paper: the empty-state stabilizer and the bounded
exp(-m) above (same function, finite where the paper's form is not);
`recurrent_activation` is the output gate's σ only (the forget gate's log σ
must be the logistic one's). No `recurrent_dropout`: no weight reads
h_{t-1}, so there is no recurrent input to drop, and a value > 0 is an
error; `dropout` drops x_t with one mask per sequence, in every form.
`recurrent_initializer`, `recurrent_regularizer` and
`recurrent_constraint` are accepted, kept in the config, and unused.
"""

import math

import keras
from keras import ops

from zoo.layers.parallel import ParallelRNN
from zoo.layers.rnn import RecurrentCell, check_positive_int

FORGET_GATES = ("sigmoid", "exponential")
# log 0 as a finite number (−∞ would make gradients NaN): ĩ at masked steps,
# m of an empty state, the log weights above the diagonal.
LOG_ZERO = -1e30
# The lower bound exp(-m_t) of the normalizer is taken as exp(min(-m_t, 80)).
MAX_LOG_BOUND = 80.0


def log_forget_gate(f_tilde, forget_gate):
    """log f_t: log σ(f̃_t) = -softplus(-f̃_t), or log exp(f̃_t) = f̃_t."""
    if forget_gate == "sigmoid":
        return -ops.softplus(-f_tilde)
    return f_tilde


def stabilizer_of(C, n, m):
    """m of a state (C', n', m): log 0 where a head's C' and n' are all zero."""
    empty = ops.logical_and(
        ops.all(ops.equal(C, 0.0), axis=(-2, -1)), ops.all(ops.equal(n, 0.0), axis=-1)
    )
    return ops.where(empty, LOG_ZERO, m)


def normalized(numerator, q_dot_n, m):
    """h̃ = C'q / max(|n'ᵀq|, exp(-m)), with exp(-m) bounded by exp(80)."""
    bound = ops.exp(ops.minimum(-m, MAX_LOG_BOUND))
    return numerator / ops.expand_dims(ops.maximum(ops.abs(q_dot_n), bound), -1)


def parallel_form(q, k, v, i_tilde, log_f, valid, C_0, n_0, m_0):
    """The stabilized mLSTM over a whole sequence at once, per head.

    Args:
        q, k, v: `(batch, heads, T, d)`, k already scaled by 1/√d.
        i_tilde, log_f: `(batch, heads, T)`, ĩ_t and log f_t.
        valid: None or boolean `(batch, T)`: False at masked steps.
        C_0, n_0, m_0: the initial state, `(batch, heads, d, d)`,
            `(batch, heads, d)`, `(batch, heads)`.

    Returns:
        h̃ `(batch, heads, T, d)` and the final state (C'_T, n'_T, m_T).
    """
    T = ops.shape(q)[2]
    steps = ops.arange(T, dtype="int32")
    causal = ops.expand_dims(steps, 1) >= ops.expand_dims(steps, 0)  # s ≤ t
    later = ops.expand_dims(steps, 1) > ops.expand_dims(steps, 0)  # s < t
    weighted = causal
    if valid is not None:
        # A masked step keeps the state: log f = 0, ĩ = -∞, no weight.
        keep = ops.expand_dims(valid, 1)  # (batch, 1, T)
        log_f = ops.where(keep, log_f, 0.0)
        i_tilde = ops.where(keep, i_tilde, LOG_ZERO)
        weighted = ops.logical_and(causal, ops.expand_dims(keep, 2))
    # Σ_{k=s+1..t} log f_k at [t, s]: a cumulative sum over k of log f_k
    # for k > s, each pair summed over its own steps.
    decay = ops.cumsum(ops.where(later, ops.expand_dims(log_f, -1), 0.0), axis=-2)
    # D_ts = Σ_{k=s+1..t} log f_k + ĩ_s for s ≤ t
    D = ops.where(causal, decay + ops.expand_dims(i_tilde, -2), LOG_ZERO)
    # The initial state's log weight Σ_{k≤t} log f_k + m_0 (m_0 = log 0 if
    # it is empty).
    m_0_hat = stabilizer_of(C_0, n_0, m_0)
    G = ops.cumsum(log_f, axis=-1) + ops.expand_dims(m_0_hat, -1)
    # m_t = max(max_s D_ts, Σ_{k≤t} log f_k + m_0), the recurrent m_t
    m = ops.maximum(ops.max(D, axis=-1), G)
    weights = ops.where(weighted, ops.exp(D - ops.expand_dims(m, -1)), 0.0)
    w_0 = ops.exp(G - m)
    # C̃ = (Q Kᵀ) ⊙ exp(D - m)
    C_tilde = ops.matmul(q, ops.swapaxes(k, -1, -2)) * weights
    # C'_t q_t = Σ_s C̃_ts v_s + w_t C'_0 q_t
    numerator = ops.matmul(C_tilde, v) + ops.expand_dims(w_0, -1) * ops.einsum(
        "bhij,bhtj->bhti", C_0, q
    )
    # n'_tᵀ q_t = Σ_s C̃_ts + w_t n'_0ᵀ q_t
    q_dot_n = ops.sum(C_tilde, axis=-1) + w_0 * ops.einsum("bhj,bhtj->bht", n_0, q)
    h_tilde = normalized(numerator, q_dot_n, m)

    # The final state, from row T of the weights.
    last, w_last = weights[:, :, -1], w_0[:, :, -1]
    C_T = ops.einsum("bhs,bhsi,bhsj->bhij", last, v, k) + w_last[..., None, None] * C_0
    n_T = ops.einsum("bhs,bhsj->bhj", last, k) + w_last[..., None] * n_0
    # No real step and no memory: m stays as it came (as Keras's loop keeps it).
    m_T = ops.where(m[:, :, -1] < 0.5 * LOG_ZERO, m_0, m[:, :, -1])
    return h_tilde, (C_T, n_T, m_T)


def last_real_output(outputs, mask, h_0):
    """The output of each row's last real step, or h_0 if it has none."""
    steps = ops.arange(ops.shape(outputs)[1], dtype="int32")
    real_steps = ops.where(mask, ops.expand_dims(steps, 0), -1)
    last = ops.max(real_steps, axis=1, keepdims=True)  # (batch, 1)
    at_last = ops.cast(ops.equal(ops.expand_dims(steps, 0), last), outputs.dtype)
    held = ops.sum(outputs * ops.expand_dims(at_last, -1), axis=1)
    return ops.where(last >= 0, held, ops.cast(h_0, outputs.dtype))


@keras.saving.register_keras_serializable(package="zoo")
class MLSTMCell(RecurrentCell):
    """Cell of the mLSTM (Beck et al. 2024): one step, and the whole sequence.

    Args:
        units: Positive integer, the width of h, i.e. num_heads · d.
        num_heads: Positive integer dividing `units`: the number of heads,
            each with its own d×d memory and scalar gates.
        forget_gate: "sigmoid" (default; f_t = σ(f̃_t), as the paper's
            language models) or "exponential" (f_t = exp(f̃_t)).
        chunk_size: Positive integer, the chunk length of the "chunkwise"
            form (default 64).
        use_bias: Whether the layer has the biases b_q, b_k, b_v, b_i, b_f,
            b_o.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the output gate, sigmoid),
            `kernel_initializer`, `bias_initializer`, their regularizers
            and constraints, `dropout` (of x_t), `seed`;
            `recurrent_dropout` must be 0 (no weight reads h_{t-1}); the
            `recurrent_*` initializer, regularizer and constraint are
            unused. And Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}, C'_{t-1}, n'_{t-1}, m_{t-1}]`, of widths units,
            num_heads · d · d, units, num_heads.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(MLSTMCell(4, num_heads=2))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        num_heads=1,
        forget_gate="sigmoid",
        chunk_size=64,
        use_bias=True,
        **kwargs,
    ):
        check_positive_int("num_heads", num_heads)
        check_positive_int("chunk_size", chunk_size)
        if isinstance(units, int) and units % num_heads:
            raise ValueError(
                "Argument `units` must be divisible by `num_heads`. "
                f"Received: units={units!r}, num_heads={num_heads!r}"
            )
        if forget_gate not in FORGET_GATES:
            raise ValueError(
                f"Argument `forget_gate` must be one of {FORGET_GATES}. "
                f"Received: forget_gate={forget_gate!r}"
            )
        if not isinstance(use_bias, bool):
            raise ValueError(
                "Argument `use_bias` must be True or False. "
                f"Received: use_bias={use_bias!r}"
            )
        super().__init__(units, **kwargs)
        if self.recurrent_dropout > 0.0:
            raise ValueError(
                "Argument `recurrent_dropout` must be 0 for MLSTMCell: its "
                "gates, keys, values and queries read x_t only, so there is "
                "no recurrent input to drop. "
                f"Received: recurrent_dropout={self.recurrent_dropout!r}"
            )
        self.num_heads = num_heads
        self.head_size = units // num_heads
        self.forget_gate = forget_gate
        self.chunk_size = chunk_size
        self.use_bias = use_bias
        d = self.head_size
        self.state_size = [units, num_heads * d * d, units, num_heads]  # h, C', n', m

    def build(self, input_shape):
        super().build(input_shape)
        input_dim, heads = input_shape[-1], self.num_heads

        def weight(name, shape, bias=False):
            if bias:
                return self.add_bias(shape, name=name)
            return self.add_weight(
                shape=shape,
                name=name,
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )

        self.kernel = self.add_kernel(input_dim, 3 * self.units)
        self.bias = weight("bias", (3 * self.units,), True) if self.use_bias else None
        self.gate_kernel = weight("gate_kernel", (input_dim, 2 * heads))
        self.gate_bias = weight("gate_bias", (2 * heads,), True) if self.use_bias else None
        self.output_gate_kernel = weight("output_gate_kernel", (input_dim, self.units))
        self.output_gate_bias = (
            weight("output_gate_bias", (self.units,), True) if self.use_bias else None
        )

    def project(self, x):
        """q, k, v, ĩ, f̃ (float32, split into heads) and o_t of x.

        x is `(batch, features)` or `(batch, time, features)`; q, k, v come
        back `(..., heads, d)`, ĩ and f̃ `(..., heads)`, o `(..., units)`.
        """
        qkv = ops.matmul(x, self.kernel)
        q, k, v = ops.split(ops.cast(qkv, "float32"), 3, axis=-1)
        # k_t = (1/√d) W_k x_t + b_k
        k = k / math.sqrt(self.head_size)
        gates = ops.cast(ops.matmul(x, self.gate_kernel), "float32")
        o_tilde = ops.matmul(x, self.output_gate_kernel)
        if self.use_bias:
            b_q, b_k, b_v = ops.split(ops.cast(self.bias, "float32"), 3)
            q, k, v = q + b_q, k + b_k, v + b_v
            gates = gates + ops.cast(self.gate_bias, "float32")
            o_tilde = o_tilde + self.output_gate_bias
        # ĩ_t = w_iᵀ x_t + b_i,  f̃_t = w_fᵀ x_t + b_f (one per head)
        i_tilde, f_tilde = ops.split(gates, 2, axis=-1)
        # o_t = σ(W_o x_t + b_o)
        o = self.recurrent_activation(o_tilde)
        heads = ops.shape(q)[:-1] + (self.num_heads, self.head_size)
        q, k, v = (ops.reshape(a, heads) for a in (q, k, v))
        return q, k, v, i_tilde, f_tilde, o

    def step(self, inputs, states, training=False):
        h_tm1, C_tm1, n_tm1, m_tm1 = states
        x, _ = self.dropped_inputs(inputs, h_tm1, training)
        heads, d = self.num_heads, self.head_size
        q, k, v, i_tilde, f_tilde, o = self.project(x)
        C_tm1 = ops.reshape(ops.cast(C_tm1, "float32"), (-1, heads, d, d))
        n_tm1 = ops.reshape(ops.cast(n_tm1, "float32"), (-1, heads, d))
        # An empty memory (C' = 0, n' = 0) has m_{t-1} = log 0.
        m_tm1 = stabilizer_of(C_tm1, n_tm1, ops.cast(m_tm1, "float32"))
        log_f = log_forget_gate(f_tilde, self.forget_gate)
        # m_t = max(log f_t + m_{t-1}, ĩ_t)
        m = ops.maximum(log_f + m_tm1, i_tilde)
        # i'_t = exp(ĩ_t - m_t),  f'_t = exp(log f_t + m_{t-1} - m_t)
        i_prime = ops.exp(i_tilde - m)[..., None]
        f_prime = ops.exp(log_f + m_tm1 - m)[..., None]
        # C'_t = f'_t C'_{t-1} + i'_t v_t k_tᵀ
        C = f_prime[..., None] * C_tm1 + i_prime[..., None] * (v[..., :, None] * k[..., None, :])
        # n'_t = f'_t n'_{t-1} + i'_t k_t
        n = f_prime * n_tm1 + i_prime * k
        # h̃_t = C'_t q_t / max(|n'_tᵀ q_t|, exp(-m_t))
        h_tilde = normalized(
            ops.einsum("bhij,bhj->bhi", C, q), ops.sum(n * q, axis=-1), m
        )
        # h_t = o_t ⊙ h̃_t
        h = o * ops.cast(ops.reshape(h_tilde, (-1, self.units)), o.dtype)
        new_states = [
            ops.reshape(C, (-1, heads * d * d)),
            ops.reshape(n, (-1, self.units)),
            m,
        ]
        # One input and one forget gate per head; the matrix memory C'_t
        # (heads·d·d) is left out, its normalizer n'_t stands for it.
        activations = {"i": i_prime[..., 0], "f": f_prime[..., 0], "o": o,
                       "n": new_states[1], "h": h}
        return h, [h] + [ops.cast(s, self.compute_dtype) for s in new_states], activations

    def parallel_call(self, sequences, states, mask=None, training=False, mode="parallel"):
        # Dropout, go_backwards and the outputs at masked steps are the
        # layer's (ParallelRNN); the exp/log parts run in float32.
        h_0, C_0, n_0, m_0 = states
        heads, d = self.num_heads, self.head_size
        C_0 = ops.reshape(ops.cast(C_0, "float32"), (-1, heads, d, d))
        n_0 = ops.reshape(ops.cast(n_0, "float32"), (-1, heads, d))
        m_0 = ops.cast(m_0, "float32")
        steps = ops.shape(sequences)[1]
        if mode == "chunkwise":
            # Pad to a multiple of chunk_size with masked steps.
            padding = (-steps) % self.chunk_size
            valid = ops.ones(ops.shape(sequences)[:2]) if mask is None else mask
            valid = ops.pad(ops.cast(valid, "float32"), [[0, 0], [0, padding]]) > 0.5
            x = ops.pad(sequences, [[0, 0], [0, padding], [0, 0]])
        else:
            valid = None if mask is None else ops.cast(mask, "bool")
            x = sequences
        q, k, v, i_tilde, f_tilde, o = self.project(x)
        log_f = log_forget_gate(f_tilde, self.forget_gate)
        # (batch, time, heads, ...) -> (batch, heads, time, ...)
        q, k, v = (ops.transpose(a, (0, 2, 1, 3)) for a in (q, k, v))
        i_tilde, log_f = (ops.transpose(a, (0, 2, 1)) for a in (i_tilde, log_f))
        if mode == "chunkwise":
            h_tilde, (C, n, m) = self.chunkwise_form(q, k, v, i_tilde, log_f, valid, C_0, n_0, m_0)
        else:
            h_tilde, (C, n, m) = parallel_form(q, k, v, i_tilde, log_f, valid, C_0, n_0, m_0)
        # (batch, heads, time, d) -> (batch, time, units); h_t = o_t ⊙ h̃_t
        h_tilde = ops.reshape(ops.transpose(h_tilde, (0, 2, 1, 3)), ops.shape(o))
        h = (o * ops.cast(h_tilde, o.dtype))[:, :steps]
        # The state h is the output of the last real step (h_0 if none).
        h_T = h[:, -1] if mask is None else last_real_output(h, mask, h_0)
        new_states = [
            ops.reshape(C, (-1, heads * d * d)),
            ops.reshape(n, (-1, self.units)),
            m,
        ]
        return h, [h_T] + [ops.cast(s, self.compute_dtype) for s in new_states]

    def chunkwise_form(self, q, k, v, i_tilde, log_f, valid, C_0, n_0, m_0):
        """The parallel form inside chunks, the state carried between chunks.

        The time axis (a multiple of `chunk_size` L) is cut into N chunks.
        Each chunk c sums up what it adds to the state, in its own
        stabilized scale: its total log decay A_c = Σ_{k∈c} log f_k, the log
        weights r_s = Σ_{k=s+1..end of c} log f_k + ĩ_s of its steps, their
        maximum μ_c, and B_c = Σ_s exp(r_s - μ_c) v_s k_sᵀ, b_c likewise
        with k_s. A loop over the chunks (`keras.ops.scan`) carries the
        state from chunk to chunk, one recurrent step per chunk:

            m_c = max(A_c + m_{c-1}, μ_c)
            C'_c = exp(A_c + m_{c-1} - m_c) C'_{c-1} + exp(μ_c - m_c) B_c

        and then `parallel_form` computes every chunk's outputs at once, from
        the state at the chunk's start.
        """
        L, heads, d = self.chunk_size, self.num_heads, self.head_size
        batch = ops.shape(q)[0]

        def chunked(a):
            # (batch, heads, N L, ...) -> (batch, heads, N, L, ...)
            shape = ops.shape(a)
            return ops.reshape(a, shape[:2] + (-1, L) + shape[3:])

        q, k, v, i_tilde, log_f = (chunked(a) for a in (q, k, v, i_tilde, log_f))
        valid = ops.reshape(valid, (batch, 1, -1, L))
        # A masked step keeps the state: log f = 0, ĩ = -∞, no weight.
        log_f = ops.where(valid, log_f, 0.0)
        i_tilde = ops.where(valid, i_tilde, LOG_ZERO)
        # A_c = Σ_{k∈c} log f_k;  r_s = Σ_{k=s+1..end of c} log f_k + ĩ_s
        A = ops.sum(log_f, axis=-1)
        r = ops.expand_dims(A, -1) - ops.cumsum(log_f, axis=-1) + i_tilde
        mu = ops.max(r, axis=-1)
        w = ops.where(valid, ops.exp(r - ops.expand_dims(mu, -1)), 0.0)
        B = ops.einsum("bhcs,bhcsi,bhcsj->bhcij", w, v, k)
        b = ops.einsum("bhcs,bhcsj->bhcj", w, k)
        # One tensor to scan over, (N, batch, heads, d·d + d + 2): Keras's
        # TensorFlow scan takes a dynamic N with a single input only.
        summaries = ops.concatenate(
            [ops.reshape(B, ops.shape(b)[:3] + (d * d,)), b, A[..., None], mu[..., None]],
            axis=-1,
        )
        summaries = ops.moveaxis(summaries, 2, 0)

        def step(state, summary):
            C, n, m = state
            B_c = ops.reshape(summary[..., : d * d], (-1, heads, d, d))
            b_c, A_c, mu_c = summary[..., d * d : -2], summary[..., -2], summary[..., -1]
            m_hat = stabilizer_of(C, n, m)  # log 0 for an empty memory
            # m_c = max(A_c + m_{c-1}, μ_c)
            m_c = ops.maximum(A_c + m_hat, mu_c)
            decay, new = ops.exp(A_c + m_hat - m_c), ops.exp(mu_c - m_c)
            C = decay[..., None, None] * C + new[..., None, None] * B_c
            n = decay[..., None] * n + new[..., None] * b_c
            # No real step and no memory: m stays as it came.
            m_c = ops.where(m_c < 0.5 * LOG_ZERO, m, m_c)
            # Keras's TensorFlow scan outputs what it carries.
            return (C, n, m_c), (C, n, m_c)

        final, ends = ops.scan(step, (C_0, n_0, m_0), summaries)
        # The state at each chunk's start: the initial one, then each end.
        starts = [
            ops.concatenate([ops.expand_dims(first, 0), ops.reshape(end, (-1,) + ops.shape(first))[:-1]], 0)
            for first, end in zip((C_0, n_0, m_0), ends)
        ]
        # Every chunk at once: chunks fold into the batch, (N, batch, ...)
        # -> (batch N, ...).
        C_s, n_s, m_s = (
            ops.reshape(ops.moveaxis(a, 0, 1), (-1,) + ops.shape(a)[2:]) for a in starts
        )

        def folded(a):
            # (batch, heads, N, L, ...) -> (batch N, heads, L, ...)
            a = ops.moveaxis(a, 2, 1)
            return ops.reshape(a, (-1,) + ops.shape(a)[2:])

        h_tilde, _ = parallel_form(
            folded(q), folded(k), folded(v), folded(i_tilde), folded(log_f),
            None, C_s, n_s, m_s,
        )
        # (batch N, heads, L, d) -> (batch, heads, N L, d)
        h_tilde = ops.moveaxis(ops.reshape(h_tilde, (batch, -1, heads, L, d)), 1, 2)
        return ops.reshape(h_tilde, (batch, heads, -1, d)), final

    def get_config(self):
        config = {
            "num_heads": self.num_heads,
            "forget_gate": self.forget_gate,
            "chunk_size": self.chunk_size,
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class MLSTM(ParallelRNN):
    """mLSTM layer (Beck et al. 2024, xLSTM's matrix-memory LSTM).

    Runs `MLSTMCell` over a sequence in one of three forms that compute the
    same outputs and states on the same weights: "parallel" (default; all
    steps at once, memory O(T²)), "chunkwise" (parallel within chunks of
    `chunk_size` steps, memory O(T · chunk_size)) and "recurrent" (one step
    at a time). The layer returns h; its state is `[h, C', n', m]`. This is
    the cell's recurrence only, not the paper's mLSTM block (up-projection,
    convolution, layer norm, skip, down-projection).

    Args:
        units: Positive integer, dimensionality of h.
        num_heads: Positive integer dividing `units` (default 1).
        forget_gate: "sigmoid" (default) or "exponential".
        mode: "parallel" (default), "chunkwise" or "recurrent".
        chunk_size: Chunk length of the "chunkwise" form (default 64).
        **kwargs: Every other argument of `MLSTMCell` (biases,
            initializers, regularizers, constraints, `dropout`, `seed`), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h, C', n', m]`; a head whose C' and
            n' are zero is empty (see the module docstring).

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(MLSTM(4, num_heads=2, return_sequences=True)(x).shape)
    (8, 10, 4)
    >>> output, h, C, n, m = MLSTM(4, num_heads=2, mode="chunkwise",
    ...                            chunk_size=4, return_state=True)(x)
    >>> tuple(C.shape), tuple(m.shape)
    ((8, 8), (8, 2))
    """

    modes = ("parallel", "chunkwise", "recurrent")
    cell_class = MLSTMCell
    cell_name = "mlstm_cell"

    @property
    def num_heads(self):
        return self.cell.num_heads

    @property
    def forget_gate(self):
        return self.cell.forget_gate

    @property
    def chunk_size(self):
        return self.cell.chunk_size

"""sLSTM: the scalar-memory LSTM of xLSTM, with exponential gating.

Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer, Brandstetter &
Hochreiter, "xLSTM: Extended Long Short-Term Memory" (NeurIPS 2024,
arXiv:2405.04517), Section 2.2 and the Appendix (stabilized sLSTM). Built to
let an LSTM revise its storage decisions (an exponential input gate can
outweigh everything stored so far) while keeping memory mixing (recurrent
connections h_{t-1} -> gates), which the paper's state-tracking tasks need
and which the parallel mLSTM, Transformers and state-space models lack.

With cell state c, normalizer state n, hidden state h, and
pre-activations z̃, ĩ, f̃, õ (`W_*` input weights, `R_*` recurrent weights,
`b_*` biases):

    z̃_t = W_z x_t + R_z h_{t-1} + b_z        z_t = φ(z̃_t) = tanh(z̃_t)
    ĩ_t = W_i x_t + R_i h_{t-1} + b_i        i_t = exp(ĩ_t)
    f̃_t = W_f x_t + R_f h_{t-1} + b_f        f_t = σ(f̃_t)  or  exp(f̃_t)
    õ_t = W_o x_t + R_o h_{t-1} + b_o        o_t = σ(õ_t)
    c_t = f_t c_{t-1} + i_t z_t                               cell state
    n_t = f_t n_{t-1} + i_t                                   normalizer
    h̃_t = c_t / n_t,    h_t = o_t ⊙ h̃_t                       hidden state

`forget_gate` chooses f_t: "sigmoid" (default, the paper's language
models) or "exponential". As exp overflows, the cell computes the
stabilized form (Section 2.2, Appendix), with a stabilizer state m:

    m_t  = max(log f_t + m_{t-1}, ĩ_t)
    i'_t = exp(ĩ_t - m_t)
    f'_t = exp(log f_t + m_{t-1} - m_t)

and i', f' in place of i, f. Both are at most 1 (one of them exactly 1), so
exp never overflows, also in float16; c and n are both scaled by exp(-m_t),
so h̃_t = c_t / n_t and h_t, and hence the gradients with respect to the
weights, are those of the unstabilized equations. log σ(f̃) is computed as
-softplus(-f̃), which is finite for every f̃.

The empty state. The zero initial state has n_0 = 0: it holds no mass
yet, so its stabilizer is log 0 = -∞, not 0. Wherever n_{t-1} = 0 the cell
takes m_{t-1} = -∞, which gives m_t = ĩ_t, i'_t = 1, f'_t = 0 and n_t = 1;
from then on n_t ≥ 1 at every step (either i'_t = 1 or f'_t = 1), so the
division c_t / n_t never sees a zero. The paper's m_0 = 0 gives the same h
in exact arithmetic, but its first step divides i'_1 z_1 by i'_1 =
exp(ĩ_1 - max(log f_1, ĩ_1)), which loses precision once ĩ_1 - log f_1 is
below about -87 in float32 (-10 in float16) and is 0/0 = NaN below about
-104 (-17 in float16) — also on steps that Keras masks away before a
sequence's first real input (it computes them and discards them with
`where`, whose gradient then turns NaN). The official PyTorch ("vanilla")
code takes m_1 = ĩ_1 when the whole batch's n is zero; the zoo decides per
unit. A state with n = 0 but c ≠ 0 (h̃ = ±∞ in the paper) is treated as
empty too: its c is dropped.

Heads. The units are split into `num_heads` heads of d = units / num_heads
units; the recurrent matrices are block-diagonal, one d×d block per head and
gate, so memory mixes within a head but not across heads (paper, Section
2.2). The input weights W are dense, as in the paper's equations.

Weight layout (gate order [i, f, z, o], as `keras.layers.LSTM`'s
[i, f, c, o]; within each gate block the units run head by head, unit k of
head h at index h d + k):

- `kernel`: W, `(input_dim, 4 * units)`, blocks [W_i, W_f, W_z, W_o].
- `recurrent_kernel`: R, `(num_heads, d, 4 * d)`: `recurrent_kernel[h]`
  maps head h's d units of h_{t-1} to that head's pre-activations, columns
  [R_i, R_f, R_z, R_o] (d each). The weights outside the diagonal blocks do
  not exist.
- `bias`: b, `(4 * units,)`, blocks [b_i, b_f, b_z, b_o] (if `use_bias`).

Porting from the official package (github.com/NX-AI/xlstm,
`xlstm/blocks/slstm`): its `sLSTMCell.recurrent_kernel` (the external view,
whatever the backend) is `(num_heads, d, 4, d)`, indexed [head, input unit,
gate, output unit] with gates [i, f, z, o]; `recurrent_kernel =
R_official.reshape(num_heads, d, 4 * d)`. Its `sLSTMCell.bias` is
`(num_heads, 4, d)`; `bias = b_official.transpose(1, 0, 2).reshape(-1)`. Its
`sLSTMLayer` projects the input head-wise (`LinearHeadwiseExpand`, weight
`(num_heads, d, d_in)`, block-diagonal too), so `kernel` takes those blocks,
transposed, on its diagonal and zeros elsewhere: `kernel[h d_in:(h+1) d_in,
g units + h d:g units + (h+1) d] = W_g.weight[h].T`. Mind the module names:
the official layer feeds its *input* gate from the module called `fgate` and
its forget gate from `igate` (`i, f, z, o = fgate(x_conv), igate(x_conv),
zgate(x), ogate(x)`). The port is exact with `conv1d_kernel_size=0`; with
the default causal convolution, the official i and f gates read a
convolved input that z and o do not, which one cell input cannot express.
The block around the cell (convolution, group norm per head, dropout,
residual, up/down projections) is not part of this layer. The official
initialization differs from the zoo's defaults: recurrent weights zero,
forget-gate biases falling from +5 to -7 along each head's units (a power
law, `bias_init="powerlaw_blockdependent"`), other biases zero.

Differences from the paper: the empty-state stabilizer above (same
function, finite where the paper's form overflows); and the recurrent
activation σ (`recurrent_activation`) is the output gate's only, since the
forget gate's log σ must be the logistic one's.

Precision: with the sigmoid forget gate m_t stays between the smallest and
the largest ĩ seen; with the exponential one and forget pre-activations
that stay positive, m grows by f̃_t at every step and, in float16 (the
states follow the compute dtype), could pass its range on very long
sequences.
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell, check_positive_int

FORGET_GATES = ("sigmoid", "exponential")


@keras.saving.register_keras_serializable(package="zoo")
class SLSTMCell(RecurrentCell):
    """Cell of the sLSTM (Beck et al. 2024): one time step, stabilized.

    Args:
        units: Positive integer, dimensionality of the states h, c, n, m.
        num_heads: Positive integer dividing `units`: the number of heads,
            i.e. of diagonal blocks of each recurrent matrix (1: dense R).
        forget_gate: "sigmoid" (default; f_t = σ(f̃_t), as the paper's
            language models) or "exponential" (f_t = exp(f̃_t)).
        activation: φ, the cell input's activation (tanh).
        use_bias: Whether the layer has the biases b.
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of the output gate, sigmoid),
            `kernel_initializer`, `recurrent_initializer`,
            `bias_initializer`, their regularizers and constraints,
            `dropout` (of x_t), `recurrent_dropout` (of h_{t-1}), `seed`;
            and Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}, c_{t-1}, n_{t-1}, m_{t-1}]`, each
            `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(SLSTMCell(4, num_heads=2))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        num_heads=1,
        forget_gate="sigmoid",
        activation="tanh",
        use_bias=True,
        **kwargs,
    ):
        check_positive_int("num_heads", num_heads)
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
        super().__init__(units, **kwargs)
        self.num_heads = num_heads
        self.head_size = units // num_heads
        self.forget_gate = forget_gate
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.state_size = [units, units, units, units]  # h, c, n, m

    def build(self, input_shape):
        super().build(input_shape)
        d = self.head_size
        self.kernel = self.add_kernel(input_shape[-1], 4 * self.units)
        # One d×d block per head and gate; nothing off the diagonal blocks.
        self.recurrent_kernel = self.add_weight(
            shape=(self.num_heads, d, 4 * d),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = self.add_bias((4 * self.units,)) if self.use_bias else None

    def step(self, inputs, states, training=False):
        h_tm1, c_tm1, n_tm1, m_tm1 = states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)
        heads, d = self.num_heads, self.head_size

        # W x_t + b for the four blocks [i, f, z, o].
        pre = ops.matmul(x, self.kernel)
        if self.use_bias:
            pre = pre + self.bias
        # R h_{t-1}, head by head: (batch, heads, d) x (heads, d, 4d).
        recurrent = ops.einsum(
            "bhd,hde->bhe",
            ops.reshape(h_tm1_dropped, (-1, heads, d)),
            self.recurrent_kernel,
        )
        # (batch, heads, [i, f, z, o], d) -> (batch, [i, f, z, o], heads, d)
        recurrent = ops.transpose(
            ops.reshape(recurrent, (-1, heads, 4, d)), (0, 2, 1, 3)
        )
        pre = pre + ops.reshape(recurrent, (-1, 4 * self.units))
        i_tilde, f_tilde, z_tilde, o_tilde = ops.split(pre, 4, axis=-1)

        # z_t = φ(z̃_t)
        z = self.activation(z_tilde)
        # o_t = σ(õ_t)
        o = self.recurrent_activation(o_tilde)
        if self.forget_gate == "sigmoid":
            # log f_t = log σ(f̃_t) = -softplus(-f̃_t)
            log_f = -ops.softplus(-f_tilde)
        else:
            # log f_t = log exp(f̃_t) = f̃_t
            log_f = f_tilde
        # An empty state (n_{t-1} = 0) has m_{t-1} = log 0 = -∞.
        m_tm1 = ops.where(ops.equal(n_tm1, 0.0), float("-inf"), m_tm1)
        # m_t = max(log f_t + m_{t-1}, ĩ_t)
        m = ops.maximum(log_f + m_tm1, i_tilde)
        # i'_t = exp(ĩ_t - m_t)
        i_prime = ops.exp(i_tilde - m)
        # f'_t = exp(log f_t + m_{t-1} - m_t)
        f_prime = ops.exp(log_f + m_tm1 - m)
        # c_t = f'_t c_{t-1} + i'_t z_t
        c = f_prime * c_tm1 + i_prime * z
        # n_t = f'_t n_{t-1} + i'_t   (≥ 1 after the first step)
        n = f_prime * n_tm1 + i_prime
        # h_t = o_t ⊙ h̃_t,  h̃_t = c_t / n_t
        h = o * (c / n)
        # The stabilized gates i'_t and f'_t are the ones c_t is made of.
        activations = {"i": i_prime, "f": f_prime, "z": z, "o": o, "c": c, "n": n, "h": h}
        return h, [h, c, n, m], activations

    def get_config(self):
        config = {
            "num_heads": self.num_heads,
            "forget_gate": self.forget_gate,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class SLSTM(RNN):
    """sLSTM layer (Beck et al. 2024, xLSTM's scalar-memory LSTM).

    Runs `SLSTMCell` over a sequence: exponential input gate, sigmoid or
    exponential forget gate, normalizer and stabilizer states, and
    block-diagonal (per-head) recurrent matrices. The layer returns h; its
    state is `[h, c, n, m]`. This is the cell's recurrence only, not the
    paper's sLSTM block (convolution, group norm, up/down projections).

    Args:
        units: Positive integer, dimensionality of the states.
        num_heads: Positive integer dividing `units` (default 1).
        forget_gate: "sigmoid" (default) or "exponential".
        **kwargs: Every other argument of `SLSTMCell` (activation, biases,
            initializers, regularizers, constraints, dropout, seed), of
            `keras.layers.RNN` (`return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`),
            and of a Keras layer (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h, c, n, m]`, each `(batch, units)`;
            n = 0 marks an empty state (see the module docstring).

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(SLSTM(4, num_heads=2, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = SLSTMCell
    cell_name = "slstm_cell"

    @property
    def num_heads(self):
        return self.cell.num_heads

    @property
    def forget_gate(self):
        return self.cell.forget_gate

"""Light Gated Recurrent Unit (Li-GRU): Ravanelli et al. 2018.

Mirco Ravanelli, Philemon Brakel, Maurizio Omologo & Yoshua Bengio, "Light
Gated Recurrent Units for Speech Recognition" (IEEE Transactions on
Emerging Topics in Computational Intelligence 2018, arXiv:1803.10225). The
GRU without its reset gate, with a ReLU candidate and batch normalisation of
the feed-forward (input) connections:

    z_t = σ(BN(W_z x_t) + U_z h_{t-1})                  update gate
    h̃_t = ReLU(BN(W_h x_t) + U_h h_{t-1})               candidate state
    h_t = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h̃_t

Designed for speech recognition (TIMIT, DIRHA, CHiME, TED-LIUM): the paper
argues that the reset gate is redundant for speech, whose features change
slowly, and reports that the Li-GRU cuts the per-epoch training time by more than
30% over a standard GRU while recognising better.

Normalisation (`normalization`), where the zoo differs from the paper:

- None (default): no normalisation; a bias b takes BN's place, z_t =
  σ(W_z x_t + b_z + U_z h_{t-1}) and h̃_t likewise. Batch normalisation
  needs statistics over the batch and all time steps of W x (the paper
  normalises the projections of the whole sequence before the recurrence)
  and moving averages for inference; a cell that sees one step at a time
  has neither, and updating moving averages from inside the time loop is
  not clean in Keras. Note that a ReLU candidate without normalisation can
  grow large: the paper pairs ReLU with BN for that reason.
- "layer": layer normalisation of each input projection, per sample and
  per step: LN(a) = γ ⊙ (a - mean(a)) / sqrt(var(a) + 1e-5) + β, with
  mean and variance over the `units` features of that block (W_z x_t and
  W_h x_t separately), γ the `norm_gamma` weight and β the `bias`. It
  keeps the paper's idea (normalise only the feed-forward connections, not
  U h_{t-1}) with statistics that need neither the batch nor the other
  steps, so training and inference compute the same function; it is not
  the paper's batch normalisation (SpeechBrain's Li-GRU, by the first
  author, offers layer normalisation of the input projection as an
  alternative to BN as well).

Weights: `kernel` W `(input_dim, 2 * units)` with blocks [z, h];
`recurrent_kernel` U `(units, 2 * units)` with blocks [z, h]; `bias`
`(2 * units,)` [z, h] (β with layer normalisation); with
`normalization="layer"`, `norm_gamma` γ `(2 * units,)` [z, h].

Dropout: `dropout` drops x_t, `recurrent_dropout` drops h_{t-1} before U
(one mask per sequence each; the paper uses such recurrent dropout).
"""

import keras
from keras import ops

from zoo.layers.rnn import RNN, RecurrentCell

NORMALIZATIONS = (None, "layer")
_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="zoo")
class LiGRUCell(RecurrentCell):
    """Cell of the Li-GRU: one time step.

    Args:
        units: Positive integer, dimensionality of the state h.
        activation: Activation of the candidate h̃ (ReLU, the paper's).
        normalization: None (default) or "layer": layer normalisation of
            W_z x_t and W_h x_t (module docstring; the paper's batch
            normalisation is not implemented).
        use_bias: Whether the layer has the bias (β of the normalisation).
        **kwargs: The arguments every zoo cell takes (`RecurrentCell`):
            `recurrent_activation` (σ of z, sigmoid), `kernel_initializer`,
            `recurrent_initializer`, `bias_initializer`, regularizers and
            constraints, `dropout`, `recurrent_dropout`, `seed`; and
            Keras's layer arguments.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, x_t.
        states: `[h_{t-1}]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    >>> rnn = keras.layers.RNN(LiGRUCell(4, normalization="layer"))
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(
        self, units, activation="relu", normalization=None, use_bias=True, **kwargs
    ):
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"Argument `normalization` must be one of {NORMALIZATIONS}. "
                f"Received: normalization={normalization!r}"
            )
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation)
        self.normalization = normalization
        self.use_bias = use_bias
        self.state_size = [units]

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = self.add_kernel(input_shape[-1], 2 * self.units)
        self.recurrent_kernel = self.add_recurrent_kernel(2 * self.units)
        self.bias = self.add_bias((2 * self.units,)) if self.use_bias else None
        if self.normalization == "layer":
            self.norm_gamma = self.add_weight(
                shape=(2 * self.units,), name="norm_gamma", initializer="ones"
            )

    def _layer_norm(self, a):
        """(a - mean(a)) / sqrt(var(a) + ε) over the features of one block."""
        mean = ops.mean(a, axis=-1, keepdims=True)
        variance = ops.var(a, axis=-1, keepdims=True)
        return (a - mean) * ops.rsqrt(variance + _EPSILON)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x, h_tm1_dropped = self.dropped_inputs(inputs, h_tm1, training)
        x_z, x_h = ops.split(ops.matmul(x, self.kernel), 2, axis=-1)
        if self.normalization == "layer":
            # γ ⊙ LN(W x_t), for each block separately.
            x_z, x_h = self._layer_norm(x_z), self._layer_norm(x_h)
            x_z, x_h = ops.split(
                ops.concatenate([x_z, x_h], axis=-1) * self.norm_gamma, 2, axis=-1
            )
        if self.use_bias:
            b_z, b_h = ops.split(self.bias, 2)
            x_z, x_h = x_z + b_z, x_h + b_h
        h_z, h_h = ops.split(ops.matmul(h_tm1_dropped, self.recurrent_kernel), 2, axis=-1)
        # z_t = σ(BN(W_z x_t) + U_z h_{t-1})
        z = self.recurrent_activation(x_z + h_z)
        # h̃_t = ReLU(BN(W_h x_t) + U_h h_{t-1})
        hh = self.activation(x_h + h_h)
        # h_t = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h̃_t
        h = z * h_tm1 + (1.0 - z) * hh
        return h, [h]

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "normalization": self.normalization,
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="zoo")
class LiGRU(RNN):
    """Light Gated Recurrent Unit layer (Ravanelli et al. 2018).

    Runs `LiGRUCell` over a sequence.

    Args:
        units: Positive integer, dimensionality of the state.
        normalization: None (default) or "layer" (layer normalisation of
            the input projections; not the paper's batch normalisation).
        **kwargs: Every other argument of `LiGRUCell` (activation,
            use_bias, initializers, regularizers, constraints, dropout,
            seed), of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`,
            `zero_output_for_mask`), and of a Keras layer (`name`, `dtype`,
            `activity_regularizer`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`.
        training: Whether dropout applies.
        initial_state: Optional list `[h]`.

    Example:

    >>> x = np.random.random((8, 10, 3)).astype("float32")
    >>> tuple(LiGRU(4, return_sequences=True)(x).shape)
    (8, 10, 4)
    """

    cell_class = LiGRUCell
    cell_name = "ligru_cell"

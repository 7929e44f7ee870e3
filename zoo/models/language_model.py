"""Language model: token ids -> embedding -> recurrent layers -> next-token logits.

    p(x_{t+1} | x_1 … x_t) = softmax(W_s h^L_t + b_s)
    h^l_t = RNN_l(h^{l-1}_t, state^l_{t-1}),   h^0_t = E x_t

on any cell of the catalogue (the LSTM of char-rnn and AWD-LSTM, the GRU,
xLSTM's sLSTM and mLSTM, minGRU, the classic cells). The model works on
token ids, so it runs on every Keras backend; raw text <-> ids is
`language_model_preprocessor.py`'s job.

Training reads windows of a stream with teacher forcing (the whole window
at once, in a layer's fastest whole-sequence form). With `stateful=True`
the recurrent layers carry their states from one window to the next (the
classic truncated backpropagation through time of char-rnn and AWD-LSTM:
row b of every batch continues row b of the batch before); without, every
window starts from the zero state. Generation is O(1) per token: the
prompt is read once (`prime`), then each new token steps the layers' cells
(`step`) from the carried states; the prefix is never read again.

Regularisation as AWD-LSTM (Merity, Keskar & Socher 2018) where it fits
every cell: `dropout` is locked (variational) dropout, one mask per
sequence, on the embeddings, between layers and before the output layer;
`tie_embeddings` shares E with the output layer (W_s = E; Press & Wolf
2017, Inan et al. 2017), the last recurrent layer then having
`embedding_dim` units. A cell's own `dropout` / `recurrent_dropout` go in
`cell_options` where the cell has them.
"""

import keras
from keras import ops

from zoo.diagnostics.trace import trace_layer
from zoo.layers.catalog import CELLS, recurrent_layer
from zoo.layers.rnn import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="zoo")
class LanguageModel(keras.Model):
    """A stack of recurrent layers that predicts the next token.

    Args:
        vocab_size: Positive integer, the number of token ids (padding 0
            and [UNK] 1 included).
        cell: A cell of `zoo.layers.catalog.CELLS` ("lstm", "gru",
            "slstm", "mlstm", "min_gru", ...).
        cell_options: Dict of the cell family's own arguments.
        units: Positive integer, the width of every recurrent layer (of all
            but the last with `tie_embeddings`).
        num_layers: Positive integer, recurrent layers stacked.
        embedding_dim: Positive integer, the width of the token embedding.
        dropout: Float in [0, 1), locked dropout on the embeddings, between
            layers and before the output layer.
        tie_embeddings: Whether the output layer reuses the embedding
            matrix (W_s = E); the last layer then has `embedding_dim` units.
        stateful: Whether the recurrent layers carry their states across
            calls (training on a stream); needs `batch_size`.
        batch_size: The fixed batch size of a stateful model.

    Call arguments:
        token_ids: `(batch, time)` integers.
        training: Whether dropout applies.

    Returns the logits of the next token, `(batch, time, vocab_size)`.

    Example:

    >>> model = LanguageModel(30, cell="gru", units=16, num_layers=2, embedding_dim=8)
    >>> tuple(model(np.ones((2, 5), "int32")).shape)
    (2, 5, 30)
    >>> ids = model.generate(np.array([[3, 4]]), max_length=6, seed=1)
    >>> tuple(ids.shape)
    (1, 6)
    """

    def __init__(
        self,
        vocab_size,
        cell="lstm",
        cell_options=None,
        units=256,
        num_layers=2,
        embedding_dim=128,
        dropout=0.0,
        tie_embeddings=False,
        stateful=False,
        batch_size=None,
        **kwargs,
    ):
        check_positive_int("vocab_size", vocab_size)
        if cell not in CELLS:
            raise ValueError(f"Argument `cell` must be one of {CELLS}. Received: cell={cell!r}")
        if cell_options is not None and not isinstance(cell_options, dict):
            raise ValueError(
                "Argument `cell_options` must be a dict of the cell family's arguments. "
                f"Received: cell_options={cell_options!r}"
            )
        check_positive_int("units", units)
        check_positive_int("num_layers", num_layers)
        check_positive_int("embedding_dim", embedding_dim)
        check_rate("dropout", dropout)
        for name, value in (("tie_embeddings", tie_embeddings), ("stateful", stateful)):
            if not isinstance(value, bool):
                raise ValueError(
                    f"Argument `{name}` must be True or False. Received: {name}={value!r}"
                )
        if stateful:
            check_positive_int("batch_size", batch_size)
        super().__init__(**kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.cell = cell
        self.cell_options = dict(cell_options or {})
        self.units = units
        self.num_layers = num_layers
        self.embedding_dim = embedding_dim
        self.dropout = float(dropout)
        self.tie_embeddings = tie_embeddings
        self.stateful = stateful
        self.batch_size = batch_size

        # === Layers ===
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.recurrent = [
            recurrent_layer(
                cell,
                embedding_dim if tie_embeddings and index == num_layers - 1 else units,
                self.cell_options,
                return_sequences=True,
                return_state=True,
                stateful=stateful,
                name=f"recurrent_{index}",
            )
            for index in range(num_layers)
        ]
        # Locked dropout: one mask per sequence, the same at every step.
        self.dropouts = [
            keras.layers.Dropout(dropout, noise_shape=(None, 1, None), name=f"dropout_{index}")
            for index in range(num_layers + 1)
        ]
        self.output_layer = None if tie_embeddings else keras.layers.Dense(
            vocab_size, name="output_layer"
        )
        self.build()

    def build(self, input_shape=None):
        """Creates every weight (and a stateful model's states)."""
        if self.built:
            return
        self.embedding.build((self.batch_size, None))
        features = self.embedding_dim
        for layer in self.recurrent:
            layer.build((self.batch_size, None, features))
            features = layer.cell.units
        if self.tie_embeddings:
            self.output_bias = self.add_weight(
                shape=(self.vocab_size,), initializer="zeros", name="output_bias"
            )
        else:
            self.output_layer.build((None, None, features))
        self.built = True

    # --- The network ---------------------------------------------------------

    def logits(self, h):
        """softmax's argument W_s h + b_s, in float32."""
        if self.tie_embeddings:
            # W_s = E: the output layer scores h against every embedding.
            logits = ops.matmul(h, ops.transpose(ops.cast(self.embedding.embeddings, h.dtype)))
            return ops.cast(logits, "float32") + self.output_bias
        return ops.cast(self.output_layer(h), "float32")

    def read(self, token_ids, states=None, mask=None, training=False):
        """Reads sequences: `(logits (batch, time, vocab), final states)`.

        `states` (one list per layer) continue sequences read before; None
        starts from the layers' initial states (or, stateful, their carried
        ones). A `mask` `(batch, time)` marks real tokens: padded steps
        keep the states.
        """
        x = self.dropouts[0](self.embedding(ops.cast(token_ids, "int32")), training=training)
        final_states = []
        for index, layer in enumerate(self.recurrent):
            initial = None if states is None else list(states[index])
            # h^l_t = RNN_l(h^{l-1}_t, state^l_{t-1})
            x, *layer_states = layer(x, initial_state=initial, mask=mask, training=training)
            x = self.dropouts[index + 1](x, training=training)
            final_states.append(layer_states)
        return self.logits(x), final_states

    def call(self, token_ids, training=False):
        return self.read(token_ids, training=training)[0]

    def stateless_copy(self):
        """The same network, not stateful (any batch size), sharing no state.

        The copy of a model trained on a stream: for generation, scoring
        and export.
        """
        config = {**self.get_config(), "stateful": False, "batch_size": None}
        copy = LanguageModel.from_config(config)
        copy.copy_weights_from(self)
        return copy

    def copy_weights_from(self, other):
        """Takes every weight of `other`, a LanguageModel of the same sizes
        (stateful or not: the carried states are not weights)."""
        self.embedding.set_weights(other.embedding.get_weights())
        for mine, theirs in zip(self.recurrent, other.recurrent):
            mine.cell.set_weights(theirs.cell.get_weights())
        if self.tie_embeddings:
            self.output_bias.assign(other.output_bias)
        else:
            self.output_layer.set_weights(other.output_layer.get_weights())

    def reset_states(self):
        """Zeroes a stateful model's carried states (a new stream)."""
        for layer in self.recurrent:
            layer.reset_state()

    # --- One token at a time -------------------------------------------------

    def prime(self, token_ids, mask=None):
        """Reads prompts once: `(logits of the token after each, states)`.

        Args:
            token_ids: `(batch, time)` prompts, right-padded.
            mask: `(batch, time)` booleans, True at real tokens (None: all).

        Returns:
            `(batch, vocab_size)` float32 logits of the next token after
            each prompt's last real token, and the states there.
        """
        states = self.initial_states(ops.shape(token_ids)[0])
        logits, states = self.read(token_ids, states=states, mask=mask)
        if mask is None:
            return logits[:, -1], states
        # The logits at each row's last real token.
        last = ops.maximum(ops.sum(ops.cast(mask, "int32"), axis=1) - 1, 0)
        picked = ops.take_along_axis(logits, ops.reshape(last, (-1, 1, 1)), axis=1)
        return picked[:, 0], states

    def initial_states(self, batch_size):
        """Zero states for `batch_size` sequences: one list per layer."""
        return [
            [ops.zeros((batch_size, size), dtype=layer.compute_dtype) for size in _sizes(layer)]
            for layer in self.recurrent
        ]

    def step(self, token_ids, states):
        """One token per row `(batch,)` -> `(logits (batch, vocab), states)`.

        Steps each layer's cell, the cell its layer runs over whole
        sequences, so reading and stepping compute the same function.
        """
        x = self.embedding(ops.cast(token_ids, "int32"))
        new_states = []
        for layer, layer_states in zip(self.recurrent, states):
            x, layer_states = layer.cell(x, list(layer_states), training=False)
            new_states.append(list(layer_states))
        return self.logits(x), new_states

    def generate(
        self,
        prompt_ids,
        prompt_mask=None,
        max_length=100,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        uniforms=None,
        seed=None,
    ):
        """Samples continuations of prompts, O(1) work per new token.

        Args:
            prompt_ids: `(batch, time)` prompts, right-padded with 0; every
                row needs at least one real token.
            prompt_mask: `(batch, time)` booleans (None: every token real).
            max_length: Positive integer (or scalar int32 tensor), the
                tokens to generate.
            temperature: Float >= 0; 0 takes the most probable token.
            top_k: Integer >= 0; keep the k most probable tokens (0: all).
            top_p: Float in (0, 1]; keep the most probable tokens whose
                probabilities first sum to p (nucleus sampling).
            uniforms: `(batch, max_length)` floats in [0, 1), the draws
                that pick each token (by its place in the cumulative
                distribution); None draws them from `seed`. A caller that
                needs a stateless draw (an exported graph, a request's seed)
                passes its own.
            seed: Integer or `keras.random.SeedGenerator` for `uniforms`.

        Returns:
            `(batch, max_length)` int32 generated ids, never 0 (padding)
            or 1 ([UNK]).
        """
        if not ops.is_tensor(max_length):  # a tensor is checked by its caller
            check_positive_int("max_length", max_length)
        logits, states = self.prime(prompt_ids, prompt_mask)
        batch = ops.shape(logits)[0]
        if uniforms is None:
            uniforms = keras.random.uniform((batch, max_length), seed=seed)
        uniforms = ops.cast(uniforms, "float32")
        output = ops.zeros((batch, max_length), dtype="int32")
        rows = ops.arange(batch, dtype="int32")
        sizes = [len(layer_states) for layer_states in states]
        # Padding (0) and [UNK] (1) are no text to generate.
        never = ops.arange(self.vocab_size) < 2

        def body(t, carry):
            logits, output, *flat = carry
            states, start = [], 0
            for size in sizes:
                states.append(flat[start:start + size])
                start += size
            u = ops.take(uniforms, t, axis=1)
            token = sample(ops.where(never, -1e30, logits), temperature, top_k, top_p, u)
            # Writes column t alone (a scatter, which can update in place),
            # so each token costs the same however long the output grows.
            where = ops.stack([rows, ops.full_like(rows, t)], axis=1)
            output = ops.scatter_update(output, where, ops.cast(token, "int32"))
            logits, states = self.step(token, states)
            return (logits, output, *[s for layer_states in states for s in layer_states])

        flat_states = [s for layer_states in states for s in layer_states]
        carry = ops.fori_loop(0, max_length, body, (logits, output, *flat_states))
        return carry[1]

    def log_likelihood(self, token_ids, mask=None):
        """log p of every token after the first, given those before it.

        Args:
            token_ids: `(batch, time)` texts, right-padded.
            mask: `(batch, time)` booleans, True at real tokens.

        Returns:
            `(total, count)`: `(batch,)` float32 Σ_t log p(x_{t+1} | x_≤t)
            in nats and `(batch,)` int32 the number of tokens it scores
            (the real tokens less the first, which has no context).
        """
        token_ids = ops.cast(token_ids, "int32")
        states = self.initial_states(ops.shape(token_ids)[0])
        logits, _ = self.read(token_ids[:, :-1], states=states)
        return self._log_likelihood_of(logits, token_ids, mask)

    def _log_likelihood_of(self, logits, token_ids, mask):
        """`log_likelihood` from the logits after `token_ids[:, :-1]`."""
        log_probs = ops.log_softmax(logits, axis=-1)
        targets = token_ids[:, 1:]
        picked = ops.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        scored = (
            ops.ones_like(picked, dtype="bool") if mask is None else ops.cast(mask, "bool")[:, 1:]
        )
        total = ops.sum(ops.where(scored, picked, 0.0), axis=1)
        return total, ops.sum(ops.cast(scored, "int32"), axis=1)

    def trace(self, token_ids, mask=None):
        """What every recurrent layer did at every token of texts it reads.

        Args:
            token_ids: `(batch, time)` ids, right-padded.
            mask: `(batch, time)` booleans, True at real tokens.

        Returns:
            `(activations, outputs, score)`: `{"recurrent_l": {"forward":
            {name: (batch, time, width)}}}`, each layer's output sequence,
            and `(batch,)` Σ_t log p(x_{t+1} | x_≤t), the log-likelihood
            of the text (`log_likelihood`), whose gradient ranks the units.
        """
        token_ids = ops.cast(token_ids, "int32")
        x = self.embedding(token_ids)
        activations, outputs = {}, {}
        for layer in self.recurrent:
            # The traced layers start from zeros, as `log_likelihood` does.
            x, _, _, activations[layer.name] = trace_layer(layer, x, mask)
            outputs[layer.name] = x
        total, _ = self._log_likelihood_of(self.logits(x)[:, :-1], token_ids, mask)
        return activations, outputs, total

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "cell": self.cell,
            "cell_options": self.cell_options,
            "units": self.units,
            "num_layers": self.num_layers,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
            "tie_embeddings": self.tie_embeddings,
            "stateful": self.stateful,
            "batch_size": self.batch_size,
        }


def _sizes(layer):
    size = layer.cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def sample(logits, temperature, top_k, top_p, uniforms):
    """Draws one token per row from filtered logits.

    Args:
        logits: `(batch, vocab)` float32.
        temperature: Float >= 0 (a scalar, or a tensor); 0 is greedy.
        top_k: Integer >= 0 (0: no limit).
        top_p: Float in (0, 1].
        uniforms: `(batch,)` floats in [0, 1).

    Returns:
        `(batch,)` int32 tokens: the first whose cumulative probability
        (in vocabulary order) exceeds the row's uniform draw.
    """
    temperature = ops.cast(temperature, "float32")
    greedy = ops.cast(ops.argmax(logits, axis=-1), "int32")
    scaled = logits / ops.maximum(temperature, 1e-6)
    # Both filters keep the tokens whose logit reaches a threshold, read
    # from the logits sorted in falling order.
    vocab = ops.shape(logits)[-1]
    ordered = ops.flip(ops.sort(scaled, axis=-1), axis=-1)
    # top-k: the k-th largest logit (all of them with k = 0 or k > vocab)
    k = ops.cast(top_k, "int32")
    k = ops.where((k <= 0) | (k > vocab), vocab, k)
    kth = ops.take(ordered, k - 1, axis=-1)
    # top-p: the smallest prefix of the sorted tokens whose probability
    # reaches p; a token belongs to it if the ones before it sum below p.
    probabilities = ops.softmax(ordered, axis=-1)
    before = ops.cumsum(probabilities, axis=-1) - probabilities
    in_nucleus = before < ops.cast(top_p, "float32")
    smallest_kept = ops.min(ops.where(in_nucleus, ordered, ordered[:, :1]), axis=-1)
    threshold = ops.maximum(kth, smallest_kept)
    filtered = ops.where(scaled >= threshold[:, None], scaled, -1e30)
    cumulative = ops.cumsum(ops.softmax(filtered, axis=-1), axis=-1)
    drawn = ops.sum(ops.cast(cumulative <= uniforms[:, None], "int32"), axis=-1)
    # Rounding can leave the last cumulative value just under u.
    kept = ops.cast(filtered > -1e29, "int32")
    last_kept = vocab - 1 - ops.argmax(ops.flip(kept, axis=-1), axis=-1)
    drawn = ops.minimum(drawn, ops.cast(last_kept, "int32"))
    return ops.where(temperature > 0, drawn, greedy)

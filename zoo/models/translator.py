"""Encoder-decoder translator with attention over the zoo's recurrent cells.

The model is the global-attention network of Luong, Pham & Manning,
"Effective Approaches to Attention-based Neural Machine Translation" (EMNLP
2015, arXiv:1508.04025), with the additive score of Bahdanau, Cho & Bengio,
"Neural Machine Translation by Jointly Learning to Align and Translate"
(ICLR 2015, arXiv:1409.0473) as an option. Any zoo cell runs the encoder and
the decoder: `zoo.layers.LSTM` (any Greff variant), `zoo.layers.GRU`, or the
1997 `zoo.layers.OriginalLSTM`. For a source sentence x_1 … x_S and a target
y_1 … y_T (y_0 = [start], y_T = [end]), with E_x, E_y the embeddings:

    h̄_s = RNN_enc(E_x x_s, h̄_{s-1})                         encoder, s = 1 … S
    h̄_s = [h→_s; h←_s]                                      bidirectional encoder
    h_0 = h̄_S            (bidirectional: [h→_S; h←_1])
    h_t = RNN_dec(E_y y_{t-1}, h_{t-1})                      decoder
    score(h_t, h̄_s) = h_tᵀ h̄_s                              "dot" (Luong)
    score(h_t, h̄_s) = v_aᵀ tanh(W_1 h_t + W_2 h̄_s)          "additive" (Bahdanau)
    α_ts = exp(score(h_t, h̄_s)) / Σ_s' exp(score(h_t, h̄_s'))  real tokens s'
    c_t  = Σ_s α_ts h̄_s                                      context vector
    h̃_t  = tanh(W_c [c_t; h_t])                              attentional hidden state
    p(y_t | y_<t, x) = softmax(W_s h̃_t + b_s)                output distribution

`Translator.encode`, `Translator.output_logits` and `Translator.call` compute
these lines in this order, each under a comment quoting its equation. The
string side (vectorizers, detokenization, `translate`) is
`translator_preprocessor.py`; BLEU and chrF are `translation_metrics.py`.

Choices and deviations:

* Attention is applied Luong-style *after* the decoder RNN, on its outputs
  h_t, and there is no input feeding (Luong's h̃_{t-1} fed back into the
  decoder's input). So training runs the decoder RNN over the whole target
  sequence at once (teacher forcing), and inference steps the same
  decoder cell one token at a time (`decode_step`): the two compute the same
  function with the same weights. With `attention="additive"` only the
  score is Bahdanau's: his decoder attends with h_{t-1} and feeds c_t into
  the RNN.
* Source padding (id 0) is masked in the encoder (padded steps keep the
  state) and in the attention (α_ts = 0 on padding). The decoder input is
  not masked: padding after [end] only affects positions the loss ignores
  (`SparseCategoricalCrossentropy(ignore_class=0)`).
* A bidirectional encoder runs `units / 2` cells each way and concatenates
  them, so h̄_s has the decoder's width and the decoder starts from the two
  final states side by side, [h→_S; h←_1] (and likewise for every other
  state tensor, e.g. an LSTM's memory cells), as OpenNMT's "brnn" encoder
  does. (A first version projected [h→_s; h←_s] back to `units` and
  started the decoder from a tanh bridge, as Bahdanau et al. initialise
  s_0 = tanh(W_s h←_1); on the Spanish-English data it sat for a whole
  epoch on the unigram plateau, predicting the most frequent token.) A
  unidirectional encoder hands its final states to the decoder unchanged. With `encoder_layers > 1` the decoder
  starts from the top encoder layer's state; the decoder has one layer.
* Decoding never emits padding or [start] before [end] (their probability
  still counts in the normalisation); after [end] every position is padding.

The core (everything on `Translator`) is written with `keras.ops` and runs
on any Keras backend, inside `tf.function` with a dynamic batch size, and in
a SavedModel graph. The string side, `TranslationVectorizers`, needs
TensorFlow; it uses core TF ops only (`tf.strings`, lookup tables), so it
can be exported beside the model.

Evaluation protocol: `corpus_bleu` and `corpus_chrf` score detokenized,
lowercased hypotheses (`TranslationVectorizers.detokenize`) against the raw
target sentences with sacrebleu (lowercase=True, BLEU's default 13a
tokenizer), counting every target of a source sentence as a reference
(`zoo.data.translation.group_by_source`).
"""

import keras
import numpy as np
from keras import ops

from zoo.diagnostics.trace import trace_layer
from zoo.layers.catalog import CELLS, recurrent_layer
from zoo.layers.rnn import check_positive_int, check_rate

ATTENTIONS = ("dot", "additive")

# Token ids shared by `TranslationVectorizers` and `Translator`.
PAD_ID = 0  # padding, and every position after [end]
UNK_ID = 1  # out-of-vocabulary token
START_ID = 2  # [start], the decoder's first input y_0
END_ID = 3  # [end], the last target token
START_TOKEN = "[start]"
END_TOKEN = "[end]"

# A log-probability that no hypothesis reaches: -inf without inf - inf = nan.
_NEVER = -1e9


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Argument `{name}` must be one of {choices}. "
            f"Received: {name}={value!r}"
        )


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{name}` must be True or False. Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="zoo")
class Translator(keras.Model):
    """Encoder-decoder translator with global attention (Luong et al. 2015).

    Token ids in, logits out: `call` runs teacher forcing over a whole
    target sequence; `greedy_decode` and `beam_search` translate one token
    at a time with the same weights; `sequence_log_probability` scores a
    given translation. See the module docstring for the equations and
    `docs/translation.md` for the whole task.

    Args:
        source_vocab_size: Positive integer, source vocabulary size
            (including padding 0 and [UNK] 1).
        target_vocab_size: Positive integer, target vocabulary size
            (including padding, [UNK], [start] and [end]).
        cell: The recurrent cell of encoder and decoder, a name of
            `zoo.layers.catalog.CATALOG`: "gru" (default, `zoo.layers.GRU`),
            "lstm" (`zoo.layers.LSTM`), "original_lstm"
            (`zoo.layers.OriginalLSTM`, the 1997 cell), or any other
            catalogued cell. A cell whose state does not grow in proportion
            to `units` (the mLSTM's matrix memory) needs
            `bidirectional_encoder=False`.
        cell_options: The family's own arguments (`zoo.layers.catalog`):
            e.g. `{"variant": "CIFG"}` for "lstm", `{"reset_after": False}`
            for "gru", `{"block_size": 2}` for "original_lstm".
        units: Positive integer, the width of every recurrent layer, of the
            attention and of h̃_t. For "original_lstm", blocks × block_size.
        embedding_dim: Positive integer, width of both embeddings.
        encoder_layers: Positive integer, stacked encoder layers.
        bidirectional_encoder: Whether each encoder layer reads the source
            both ways (`keras.layers.Bidirectional`, `units / 2` cells each
            way, outputs and final states concatenated); `units` must then
            be even.
        attention: "dot" (Luong, h_tᵀ h̄_s; `keras.layers.Attention`) or
            "additive" (Bahdanau, v_aᵀ tanh(W_1 h_t + W_2 h̄_s);
            `keras.layers.AdditiveAttention`).
        dropout: Float in [0, 1), dropout on the embeddings and on h̃_t
            during training.
        start_id: Id of [start] in the target vocabulary (2, as
            `TranslationVectorizers` builds it).
        end_id: Id of [end] (3).
        **kwargs: Keras's model arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: A dict with "source_ids" `(batch, source_len)` and
            "target_in_ids" `(batch, target_len)` integer tensors: the
            source, and the target shifted right ([start] y_1 … y_{T-1}),
            both right-padded with 0.
        training: Whether dropout applies.

    Returns:
        Logits `(batch, target_len, target_vocab_size)` of y_1 … y_T.

    Example:

    >>> model = Translator(30, 40, cell="lstm", cell_options={"variant": "CIFG"},
    ...                    units=8, embedding_dim=6, attention="additive")
    >>> source = np.array([[5, 6, 7, 0], [8, 9, 0, 0]])
    >>> target_in = np.array([[2, 4, 5], [2, 6, 0]])
    >>> logits = model({"source_ids": source, "target_in_ids": target_in})
    >>> tuple(logits.shape)
    (2, 3, 40)
    >>> tuple(model.greedy_decode(source, max_length=5).shape)
    (2, 5)
    >>> tuple(model.beam_search(source, beam_width=3, max_length=5).shape)
    (2, 5)
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        cell="gru",
        cell_options=None,
        units=256,
        embedding_dim=128,
        encoder_layers=1,
        bidirectional_encoder=False,
        attention="dot",
        dropout=0.0,
        start_id=START_ID,
        end_id=END_ID,
        **kwargs,
    ):
        check_positive_int("source_vocab_size", source_vocab_size)
        check_positive_int("target_vocab_size", target_vocab_size)
        _check_choice("cell", cell, CELLS)
        if cell_options is not None and not isinstance(cell_options, dict):
            raise ValueError(
                "Argument `cell_options` must be a dict of the cell family's "
                f"arguments. Received: cell_options={cell_options!r}"
            )
        check_positive_int("units", units)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("encoder_layers", encoder_layers)
        _check_bool("bidirectional_encoder", bidirectional_encoder)
        if bidirectional_encoder and units % 2:
            raise ValueError(
                "Argument `units` must be even with `bidirectional_encoder=True` "
                f"(units / 2 cells read each way). Received: units={units}"
            )
        _check_choice("attention", attention, ATTENTIONS)
        check_rate("dropout", dropout)
        for name, value in (("start_id", start_id), ("end_id", end_id)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 < value < target_vocab_size
            ):
                raise ValueError(
                    f"Argument `{name}` must be an integer in [1, "
                    f"target_vocab_size={target_vocab_size}). "
                    f"Received: {name}={value!r}"
                )
        if start_id == end_id:
            raise ValueError(
                "Arguments `start_id` and `end_id` must differ. "
                f"Received: start_id={start_id!r}, end_id={end_id!r}"
            )
        super().__init__(**kwargs)

        # === Config ===
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.cell = cell
        self.cell_options = dict(cell_options or {})
        self.units = units
        self.embedding_dim = embedding_dim
        self.encoder_layers = encoder_layers
        self.bidirectional_encoder = bidirectional_encoder
        self.attention = attention
        self.dropout = float(dropout)
        self.start_id = start_id
        self.end_id = end_id

        # === Layers ===
        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embedding_dim, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embedding_dim, name="target_embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, name="embedding_dropout"
        )
        self.encoder = []
        for index in range(encoder_layers):
            top = index == encoder_layers - 1
            name = f"encoder_{index}"
            layer = self._recurrent_layer(
                name, return_state=top, units=units // 2 if bidirectional_encoder else units
            )
            if bidirectional_encoder:
                layer = keras.layers.Bidirectional(layer, name=name)
            self.encoder.append(layer)
        self.decoder = self._recurrent_layer("decoder", return_state=True, units=units)
        self._check_state_hand_over()
        self.query_projection = None  # W_1
        self.key_projection = None  # W_2
        if attention == "dot":
            self.attention_layer = keras.layers.Attention(
                use_scale=False, score_mode="dot", name="attention"
            )
        else:
            self.query_projection = keras.layers.Dense(
                units, use_bias=False, name="query_projection"
            )
            self.key_projection = keras.layers.Dense(
                units, use_bias=False, name="key_projection"
            )
            # Its `scale` weight is v_a.
            self.attention_layer = keras.layers.AdditiveAttention(
                use_scale=True, name="attention"
            )
        self.attentional_projection = keras.layers.Dense(  # W_c
            units, activation="tanh", use_bias=False, name="attentional_projection"
        )
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.output_projection = keras.layers.Dense(  # W_s, b_s
            target_vocab_size, name="output_projection"
        )
        # Weights exist from the start, so decoding loops (tf.while_loop,
        # jax.lax.fori_loop) never create variables while tracing.
        self.build()

    def _check_state_hand_over(self):
        """The decoder starts from the encoder's final states, side by side
        for a bidirectional encoder: a cell whose state does not grow in
        proportion to `units` (the mLSTM's matrix memory) cannot do that."""
        top = self.encoder[-1]
        if not self.bidirectional_encoder:
            return
        handed = [2 * size for size in top.forward_layer.cell.state_size]
        expected = list(self.decoder.cell.state_size)
        if handed != expected:
            raise ValueError(
                f"Cell {self.cell!r} cannot start the decoder from a bidirectional "
                f"encoder's final states: two encoder directions of "
                f"{self.units // 2} units hand over states of sizes {handed}, the "
                f"decoder of {self.units} units needs {expected}. Use "
                f"`bidirectional_encoder=False` with this cell."
            )

    def _recurrent_layer(self, name, return_state, units):
        return recurrent_layer(
            self.cell,
            units,
            self.cell_options,
            return_sequences=True,
            return_state=return_state,
            name=name,
        )

    def build(self, input_shape=None):
        """Creates every weight; the shapes follow from the config alone."""
        units, width = self.units, self.embedding_dim
        self.source_embedding.build((None, None))
        self.target_embedding.build((None, None))
        features = width
        for layer in self.encoder:
            layer.build((None, None, features))
            features = units  # one direction's, or both halves side by side
        self.decoder.build((None, None, width))
        if self.attention == "additive":
            self.query_projection.build((None, None, units))
            self.key_projection.build((None, None, units))
        self.attention_layer.build([(None, None, units)] * 3)
        self.attentional_projection.build((None, None, 2 * units))
        self.output_projection.build((None, None, units))

    # --- The network ---------------------------------------------------------

    def encode(self, source_ids, training=False):
        """Runs the encoder once per source batch.

        Args:
            source_ids: `(batch, source_len)` integers, right-padded with 0.
            training: Whether dropout applies.

        Returns:
            `(memory, keys, source_mask, states)`: the annotations h̄_s
            `(batch, source_len, units)`, the attention keys (h̄_s, or
            W_2 h̄_s for the additive score), the `(batch, source_len)`
            boolean mask of real tokens, and the decoder's initial states.
        """
        source_ids = ops.cast(source_ids, "int32")
        source_mask = ops.not_equal(source_ids, PAD_ID)
        x = self.embedding_dropout(
            self.source_embedding(source_ids), training=training
        )
        # h̄_s = RNN_enc(E_x x_s, h̄_{s-1}); padded steps keep the state.
        for layer in self.encoder[:-1]:
            x = layer(x, mask=source_mask, training=training)
        memory, *final_states = self.encoder[-1](
            x, mask=source_mask, training=training
        )
        keys, states = self._keys_and_states(memory, final_states)
        return memory, keys, source_mask, states

    def _keys_and_states(self, memory, final_states):
        """The attention keys of the annotations and the decoder's initial
        states, from the top encoder layer's outputs and final states."""
        if self.bidirectional_encoder:
            # h̄_s = [h→_s; h←_s] is the Bidirectional layer's output.
            half = len(final_states) // 2
            # h_0 = [h→_S; h←_1], for each state tensor
            states = [
                ops.concatenate([forward, backward], axis=-1)
                for forward, backward in zip(final_states[:half], final_states[half:])
            ]
        else:
            # h_0 = h̄_S
            states = list(final_states)
        # W_2 h̄_s does not depend on t: computed once per source.
        keys = memory if self.key_projection is None else self.key_projection(memory)
        return keys, states

    def trace(self, source_ids, target_ids):
        """What every encoder layer did at every source token, and the
        decoder at every target token, reading a given translation.

        Args:
            source_ids: `(batch, source_len)` ids, right-padded with 0.
            target_ids: `(batch, target_len)` ids y_1 … (as `greedy_decode`
                returns them: [end], then padding); the decoder reads
                [start] y_1 … y_{T-1} (teacher forcing).

        Returns:
            `(activations, outputs, score)`: `{"encoder_l" | "decoder":
            {direction: {name: (batch, time, width)}}}` (the decoder's step
            t is labelled by y_t, the token it gives), each traced layer's
            output sequence, and `(batch,)` log p(y | x) of the translation,
            whose gradient ranks the units.
        """
        source_ids = ops.cast(source_ids, "int32")
        target_ids = ops.cast(target_ids, "int32")
        source_mask = ops.not_equal(source_ids, PAD_ID)
        activations, outputs = {}, {}
        x = self.source_embedding(source_ids)
        for layer in self.encoder:
            x, _, final_states, activations[layer.name] = trace_layer(layer, x, source_mask)
            outputs[layer.name] = x
        memory = x
        keys, states = self._keys_and_states(memory, final_states)
        start = ops.zeros_like(target_ids[:, :1]) + self.start_id
        decoder_inputs = ops.concatenate([start, target_ids[:, :-1]], axis=1)
        target_mask = ops.not_equal(target_ids, PAD_ID)
        h, _, _, activations["decoder"] = trace_layer(
            self.decoder, self.target_embedding(decoder_inputs), target_mask, states)
        outputs["decoder"] = h
        log_probs = ops.log_softmax(
            ops.cast(self.output_logits(h, memory, keys, source_mask), "float32"), axis=-1)
        picked = ops.take_along_axis(log_probs, target_ids[..., None], axis=-1)[..., 0]
        return activations, outputs, ops.sum(ops.where(target_mask, picked, 0.0), axis=1)

    def output_logits(
        self, decoder_outputs, memory, keys, source_mask, training=False
    ):
        """Attention and output layer on decoder outputs h_t `(batch, t, units)`.

        Returns the logits W_s h̃_t + b_s, `(batch, t, target_vocab_size)`.
        """
        h = decoder_outputs
        # score(h_t, h̄_s) = h_tᵀ h̄_s                       "dot": query h_t
        # score(h_t, h̄_s) = v_aᵀ tanh(W_1 h_t + W_2 h̄_s)   "additive": W_1 h_t
        query = h if self.query_projection is None else self.query_projection(h)
        # α_ts = exp(score(h_t, h̄_s)) / Σ_s' exp(score(h_t, h̄_s')), with
        # α_ts = 0 where s is padding; c_t = Σ_s α_ts h̄_s
        context = self.attention_layer(
            [query, memory, keys], mask=[None, source_mask]
        )
        # h̃_t = tanh(W_c [c_t; h_t])
        h_tilde = self.attentional_projection(ops.concatenate([context, h], -1))
        h_tilde = self.output_dropout(h_tilde, training=training)
        # p(y_t | y_<t, x) = softmax(W_s h̃_t + b_s); the softmax is in the
        # loss (from_logits=True) and in the decoders' log_softmax.
        return self.output_projection(h_tilde)

    def call(self, inputs, training=False):
        source_ids = inputs["source_ids"]
        target_in_ids = ops.cast(inputs["target_in_ids"], "int32")
        memory, keys, source_mask, states = self.encode(source_ids, training)
        # h_t = RNN_dec(E_y y_{t-1}, h_{t-1}), with the reference y_{t-1}
        # (teacher forcing), over the whole target at once.
        y = self.embedding_dropout(
            self.target_embedding(target_in_ids), training=training
        )
        h, *_ = self.decoder(y, initial_state=states, training=training)
        return self.output_logits(h, memory, keys, source_mask, training)

    def decode_step(self, token_ids, states, memory, keys, source_mask):
        """One decoder step in inference: y_{t-1} `(batch,)` -> logits of y_t.

        Steps `self.decoder.cell`, the cell the teacher-forced decoder runs
        over the sequence, so both paths compute the same function.

        Returns:
            `(logits, states)`: `(batch, target_vocab_size)` and the new
            decoder states.
        """
        # h_t = RNN_dec(E_y y_{t-1}, h_{t-1})
        y = self.target_embedding(token_ids)
        h, states = self.decoder.cell(y, list(states), training=False)
        logits = self.output_logits(h[:, None, :], memory, keys, source_mask)
        return logits[:, 0, :], list(states)

    # --- Decoding ------------------------------------------------------------

    def _step_log_probs(self, logits):
        """log p(y_t | y_<t, x) over the full vocabulary, with padding and
        [start] ruled out as choices (they keep their share of the
        normalisation)."""
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        banned = np.zeros((self.target_vocab_size,), dtype=bool)
        banned[[PAD_ID, self.start_id]] = True
        return ops.where(banned, _NEVER, log_probs)

    @property
    def max_beam_width(self):
        """The widest beam: a step can emit every target token but padding and [start]."""
        return self.target_vocab_size - 2

    def _check_max_length(self, max_length):
        check_positive_int("max_length", max_length)

    def greedy_decode(self, source_ids, max_length=20, return_scores=False):
        """Translates by taking the most probable token at every step.

        A fixed `max_length`-step `keras.ops.fori_loop`, so it traces once
        under `tf.function` (any batch size) and runs on JAX.

        Args:
            source_ids: `(batch, source_len)` integers, right-padded with 0.
            max_length: Positive integer, target tokens to produce
                (including [end]).
            return_scores: Also return log p(y | x) of each translation.

        Returns:
            `(batch, max_length)` int32 ids y_1 …: [end] then padding (0),
            or `max_length` tokens without [end] if the translation did not
            finish; with `return_scores`, also the `(batch,)` float32
            log-probabilities (up to and including [end]).
        """
        self._check_max_length(max_length)
        source_ids = ops.cast(source_ids, "int32")
        memory, keys, source_mask, states = self.encode(source_ids)
        tokens = ops.zeros_like(source_ids[:, 0]) + self.start_id
        finished = ops.zeros_like(tokens, dtype="bool")
        scores = ops.zeros_like(tokens, dtype="float32")
        output = ops.zeros_like(tokens)[:, None] + ops.zeros(
            (1, max_length), dtype="int32"
        )
        positions = ops.arange(max_length, dtype="int32")[None, :]

        def step(t, carry):
            tokens, finished, scores, output, *states = carry
            logits, states = self.decode_step(
                tokens, states, memory, keys, source_mask
            )
            log_probs = self._step_log_probs(logits)
            # y_t = argmax_y p(y | y_<t, x); padding once finished
            best = ops.cast(ops.argmax(log_probs, axis=-1), "int32")
            best_log_prob = ops.max(log_probs, axis=-1)
            tokens = ops.where(finished, PAD_ID, best)
            scores = scores + ops.where(finished, 0.0, best_log_prob)
            output = ops.where(positions == t, tokens[:, None], output)
            finished = ops.logical_or(finished, ops.equal(tokens, self.end_id))
            return (tokens, finished, scores, output, *states)

        carry = ops.fori_loop(
            0, max_length, step, (tokens, finished, scores, output, *states)
        )
        if return_scores:
            return carry[3], carry[2]
        return carry[3]

    def beam_search(
        self,
        source_ids,
        beam_width=4,
        max_length=20,
        length_penalty=0.0,
        return_scores=False,
    ):
        """Translates with beam search (Sutskever et al. 2014; Wu et al. 2016).

        Each source keeps `beam_width` hypotheses. At every step each live
        hypothesis is extended by every token, a finished one (after [end])
        only by padding at no cost, and the `beam_width` extensions with the
        highest log p(y_≤t | x) survive. At the end the hypotheses are
        ranked by log p(y | x) / lp(y), with GNMT's length penalty
        lp(y) = ((5 + |y|) / 6)^length_penalty (|y| counts [end]), and the
        best is returned. `beam_width=1` is greedy decoding.

        Args:
            source_ids: `(batch, source_len)` integers, right-padded with 0.
            beam_width: Positive integer, hypotheses kept per source (at
                most `target_vocab_size - 2`, the tokens a step can emit).
            max_length: Positive integer, target tokens to produce.
            length_penalty: Float >= 0, α of lp(y); 0 ranks by
                log-probability alone, larger values favour longer
                translations.
            return_scores: Also return log p(y | x) of each translation
                (without the length penalty).

        Returns:
            `(batch, max_length)` int32 ids as `greedy_decode`; with
            `return_scores`, also the `(batch,)` float32 log-probabilities.
        """
        check_positive_int("beam_width", beam_width)
        self._check_max_length(max_length)
        if beam_width > self.max_beam_width:
            raise ValueError(
                "Argument `beam_width` must be at most target_vocab_size - 2 "
                f"= {self.max_beam_width} (the tokens a step can "
                f"emit). Received: beam_width={beam_width!r}"
            )
        if (
            isinstance(length_penalty, bool)
            or not isinstance(length_penalty, (int, float))
            or length_penalty < 0
        ):
            raise ValueError(
                "Argument `length_penalty` must be a float >= 0. "
                f"Received: length_penalty={length_penalty!r}"
            )
        k, vocab = beam_width, self.target_vocab_size
        source_ids = ops.cast(source_ids, "int32")
        memory, keys, source_mask, states = self.encode(source_ids)

        # Hypothesis j of source i is row i * k + j of the flat batch.
        def tile(x):
            return ops.repeat(x, k, axis=0)

        memory, keys, source_mask = tile(memory), tile(keys), tile(source_mask)
        states = [tile(state) for state in states]
        tokens = ops.zeros_like(source_mask[:, 0], dtype="int32") + self.start_id
        # Only hypothesis 0 is alive at first, so step 1 expands one beam.
        first = np.where(np.arange(k) == 0, 0.0, _NEVER).astype("float32")
        scores = ops.zeros_like(source_ids[:, :1], dtype="float32") + first
        finished = ops.zeros_like(scores, dtype="bool")
        sequences = ops.zeros_like(source_ids[:, :1, None]) + ops.zeros(
            (1, k, max_length), dtype="int32"
        )
        positions = ops.arange(max_length, dtype="int32")
        # A finished hypothesis continues with padding at log-probability 0.
        padding_only = np.full((vocab,), _NEVER, dtype="float32")
        padding_only[PAD_ID] = 0.0

        def reorder(x, origin):
            """Row j of source i <- row origin[i, j] of source i."""
            shape = ops.shape(x)
            x = ops.reshape(x, (-1, k) + tuple(shape[1:]))
            index = ops.reshape(origin, (-1, k) + (1,) * (len(shape) - 1))
            x = ops.take_along_axis(x, index, axis=1)
            return ops.reshape(x, (-1,) + tuple(shape[1:]))

        def step(t, carry):
            tokens, scores, finished, sequences, *states = carry
            logits, states = self.decode_step(
                tokens, states, memory, keys, source_mask
            )
            log_probs = ops.reshape(self._step_log_probs(logits), (-1, k, vocab))
            log_probs = ops.where(finished[..., None], padding_only, log_probs)
            # log p(y_≤t | x) = log p(y_<t | x) + log p(y_t | y_<t, x)
            candidates = ops.reshape(scores[..., None] + log_probs, (-1, k * vocab))
            scores, flat = ops.top_k(candidates, k, sorted=True)
            flat = ops.cast(flat, "int32")
            origin, tokens = flat // vocab, flat % vocab
            sequences = ops.take_along_axis(sequences, origin[..., None], axis=1)
            sequences = ops.where(
                positions == t, tokens[..., None], sequences
            )
            was_finished = ops.take_along_axis(
                ops.cast(finished, "int32"), origin, axis=1
            )
            finished = ops.logical_or(
                ops.cast(was_finished, "bool"), ops.equal(tokens, self.end_id)
            )
            states = [reorder(state, origin) for state in states]
            return (ops.reshape(tokens, (-1,)), scores, finished, sequences, *states)

        carry = ops.fori_loop(
            0, max_length, step, (tokens, scores, finished, sequences, *states)
        )
        scores, sequences = carry[1], carry[3]
        # log p(y | x) / lp(y), lp(y) = ((5 + |y|) / 6)^α
        lengths = ops.sum(ops.cast(ops.not_equal(sequences, PAD_ID), "float32"), -1)
        penalty = ops.power((5.0 + lengths) / 6.0, float(length_penalty))
        best = ops.cast(ops.argmax(scores / penalty, axis=-1), "int32")
        best_sequences = ops.take_along_axis(
            sequences, best[:, None, None], axis=1
        )[:, 0, :]
        if return_scores:
            best_scores = ops.take_along_axis(scores, best[:, None], axis=1)[:, 0]
            return best_sequences, best_scores
        return best_sequences

    def sequence_log_probability(self, source_ids, target_ids):
        """log p(y | x) of given translations, by teacher forcing.

        Args:
            source_ids: `(batch, source_len)` integers, right-padded with 0.
            target_ids: `(batch, target_len)` ids y_1 … y_T as the decoders
                return them: [end], then padding (0), which is not scored.

        Returns:
            `(batch,)` float32: Σ_t log p(y_t | y_<t, x) over the non-padding
            positions.
        """
        target_ids = ops.cast(target_ids, "int32")
        start = ops.zeros_like(target_ids[:, :1]) + self.start_id
        target_in_ids = ops.concatenate([start, target_ids[:, :-1]], axis=1)
        logits = self(
            {"source_ids": source_ids, "target_in_ids": target_in_ids},
            training=False,
        )
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        picked = ops.take_along_axis(log_probs, target_ids[..., None], axis=-1)
        real = ops.not_equal(target_ids, PAD_ID)
        return ops.sum(ops.where(real, picked[..., 0], 0.0), axis=-1)

    def get_config(self):
        config = {
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "cell": self.cell,
            "cell_options": self.cell_options,
            "units": self.units,
            "embedding_dim": self.embedding_dim,
            "encoder_layers": self.encoder_layers,
            "bidirectional_encoder": self.bidirectional_encoder,
            "attention": self.attention,
            "dropout": self.dropout,
            "start_id": self.start_id,
            "end_id": self.end_id,
        }
        return {**super().get_config(), **config}


def translation_loss(label_smoothing=0.0):
    """Teacher-forcing loss: cross-entropy of the logits, padding ignored.

    Args:
        label_smoothing: ε in [0, 1): the target distribution puts 1 - ε on
            the reference token and spreads ε evenly over the vocabulary
            (Szegedy et al. 2016; Vaswani et al. 2017 train with 0.1). 0 is
            plain cross-entropy.
    """
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not (
            0.0 <= label_smoothing < 1.0):
        raise ValueError(
            "Argument `label_smoothing` must be a number in [0, 1). "
            f"Received: label_smoothing={label_smoothing!r}")
    if label_smoothing == 0.0:
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=PAD_ID
        )
    return SmoothedCrossEntropy(label_smoothing, name="smoothed_cross_entropy")


@keras.saving.register_keras_serializable(package="zoo")
class SmoothedCrossEntropy(keras.losses.Loss):
    """Label-smoothed cross-entropy of logits over sparse targets, padding
    (`PAD_ID`) ignored: the mean over real tokens, as `ignore_class` gives.

        loss_t = (1 - ε) (-log p(y_t)) + ε (1/V) Σ_v (-log p(v))
    """

    def __init__(self, label_smoothing, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        log_p = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        # -log p(y_t)
        nll = -ops.take_along_axis(log_p, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
        # (1/V) Σ_v -log p(v): the cross-entropy with the uniform distribution
        uniform = -ops.mean(log_p, axis=-1)
        loss = (1.0 - self.label_smoothing) * nll + self.label_smoothing * uniform
        real = ops.cast(ops.not_equal(y_true, PAD_ID), "float32")
        # Zero at padding, and scaled so that Keras's mean over every
        # position is the mean over the real tokens.
        share = ops.sum(real) / ops.cast(ops.size(real), "float32")
        return loss * real / ops.maximum(share, 1e-9)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

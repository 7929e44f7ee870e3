"""Text <-> token ids for `LanguageModel` (TensorFlow string ops).

Two levels:

- "char": every Unicode character is a token (char-rnn, nanoGPT's
  `shakespeare_char`): nothing is lost, so generated text keeps the
  source's case, punctuation, spacing and line breaks.
- "word": lowercase, every punctuation mark a token of its own, split on
  spaces (`lower_and_split_punctuation`, the text classifier's own
  standardization, so that a word model's embedding rows line up with a
  classifier's vocabulary), with the end of each line as a token "\\n" of
  its own, as AWD-LSTM marks sentence ends in WikiText.

Id 0 is padding, id 1 stands for any token outside the vocabulary ("[UNK]"),
and the vocabulary follows from id 2. Tokenizing and detokenizing are core
TensorFlow ops (`tf.strings`, hash-table lookups), so they can sit inside an
exported SavedModel; `encode` turns a whole training stream into ids with
the same ops.
"""

import collections
import numbers

import keras
import numpy as np
import tensorflow as tf

from zoo.models.text_classifier_preprocessor import lower_and_split_punctuation

LEVELS = ("char", "word")
PAD_ID, UNK_ID = 0, 1
UNK = "[UNK]"
LINE_END = "\n"


@keras.saving.register_keras_serializable(package="zoo")
class LanguageModelTokenizer(keras.layers.Layer):
    """Raw text to token ids and back, at character or word level.

    Args:
        level: "char" or "word".
        vocabulary: The tokens with ids 2, 3, ... (None: call `adapt`).
        max_tokens: The largest vocabulary, padding and [UNK] included
            (None: every token seen). Rarer tokens become [UNK].

    Example:

    >>> tokenizer = LanguageModelTokenizer("char")
    >>> tokenizer.adapt("to be or not")
    >>> tokenizer.vocabulary
    ['', '[UNK]', ' ', 'b', 'e', 'n', 'o', 'r', 't']
    >>> tokenizer.encode("to be").tolist()
    [8, 6, 2, 3, 4]
    """

    def __init__(self, level="char", vocabulary=None, max_tokens=None, **kwargs):
        if level not in LEVELS:
            raise ValueError(f"Argument `level` must be one of {LEVELS}. Received: level={level!r}")
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 3
        ):
            raise ValueError(
                "Argument `max_tokens` must be None or an integer of at least 3 (padding, "
                f"[UNK] and one token). Received: max_tokens={max_tokens!r}"
            )
        super().__init__(**kwargs)
        self.level = level
        self.max_tokens = max_tokens
        self._tokens = None
        self._lookup = None
        self._inverse = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # --- The vocabulary ------------------------------------------------------

    def set_vocabulary(self, tokens):
        """Uses `tokens` (ids 2, 3, ...) as the vocabulary."""
        tokens = list(tokens)
        if len(set(tokens)) != len(tokens) or "" in tokens or UNK in tokens:
            raise ValueError(
                "Argument `vocabulary` must hold distinct tokens, none of them '' "
                f"(padding) or {UNK!r}. Received {len(tokens)} tokens, starting "
                f"{tokens[:5]!r}"
            )
        self._tokens = tokens
        self._lookup = keras.layers.StringLookup(
            vocabulary=tokens, mask_token="", oov_token=UNK, name="lookup"
        )
        self._inverse = keras.layers.StringLookup(
            vocabulary=tokens, mask_token="", oov_token=UNK, invert=True, name="inverse"
        )

    def adapt(self, text):
        """Builds the vocabulary from a training stream (a string).

        Characters in code-point order (as char-rnn and nanoGPT list them);
        words by falling frequency, ties in order of first appearance.
        """
        if self.level == "char":
            counts = collections.Counter(text)
            tokens = sorted(counts)
            if self.max_tokens is not None and len(tokens) > self.max_tokens - 2:
                kept = {c for c, _ in counts.most_common(self.max_tokens - 2)}
                tokens = [c for c in tokens if c in kept]
        else:
            counts = collections.Counter(_words_of(text))
            tokens = [w for w, _ in counts.most_common(
                None if self.max_tokens is None else self.max_tokens - 2)]
        self.set_vocabulary(tokens)

    @property
    def vocabulary(self):
        """Every token by id: padding (""), [UNK], then the vocabulary."""
        self._check_adapted()
        return ["", UNK, *self._tokens]

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def _check_adapted(self):
        if self._tokens is None:
            raise ValueError(
                "The tokenizer has no vocabulary: call `adapt(text)` or pass `vocabulary`."
            )

    # --- Text -> ids -> text -------------------------------------------------

    def split(self, texts):
        """Strings `(batch,)` -> their tokens, a ragged `(batch, None)` string tensor."""
        texts = tf.convert_to_tensor(texts, tf.string)
        if self.level == "char":
            return tf.strings.unicode_split(texts, "UTF-8")
        # The end of a line is a token: "\n" stands apart before splitting.
        texts = tf.strings.regex_replace(lower_and_split_punctuation(texts), "\n", " \n ")
        return tf.strings.split(tf.strings.regex_replace(texts, "[ \t\r]+", " "), " ")

    def tokenize(self, texts):
        """Strings `(batch,)` -> ragged int64 ids `(batch, None)`."""
        self._check_adapted()
        tokens = self.split(texts)
        if self.level == "word":  # the splits of leading/trailing spaces
            tokens = tf.ragged.boolean_mask(tokens, tokens != "")
        return self._lookup(tokens)

    def call(self, texts):
        return self.tokenize(texts)

    def encode(self, text):
        """A whole stream (a string) -> its ids, a NumPy int32 array."""
        if self.level == "char":
            # Per character in NumPy: the same ids as `call`, for a million
            # characters in a moment.
            index = {c: i for i, c in enumerate(self.vocabulary)}
            return np.fromiter((index.get(c, UNK_ID) for c in text), np.int32, len(text))
        lines = text.split("\n")
        ids = self.tokenize(tf.constant([line + "\n" for line in lines[:-1]] + lines[-1:]))
        return ids.flat_values.numpy().astype(np.int32)

    def detokenize(self, ids):
        """Ids `(batch, length)` -> strings `(batch,)`; padding is dropped.

        Words are joined by spaces, with punctuation put back against the
        word before it ("it was , he said ." -> "it was, he said.").
        """
        self._check_adapted()
        ids = tf.cast(ids, tf.int64)
        tokens = tf.where(ids != PAD_ID, self._inverse(ids), "")
        if self.level == "char":
            return tf.strings.reduce_join(tokens, axis=-1)
        texts = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        texts = tf.strings.regex_replace(texts, " *\n *", "\n")
        texts = tf.strings.regex_replace(texts, " +", " ")
        texts = tf.strings.regex_replace(texts, r" ([.,!?;:%)\]}'])", r"\1")
        return tf.strings.regex_replace(texts, r"([(\[{$]) ", r"\1")

    def get_config(self):
        return {
            **super().get_config(),
            "level": self.level,
            "vocabulary": None if self._tokens is None else list(self._tokens),
            "max_tokens": self.max_tokens,
        }


def _words_of(text):
    """The word tokens of a stream, as `LanguageModelTokenizer.split` makes
    them, in Python (for counting)."""
    tokenizer = LanguageModelTokenizer("word")
    lines = text.split("\n")
    tokens = tokenizer.split(tf.constant([line + "\n" for line in lines[:-1]] + lines[-1:]))
    return [t.decode("utf-8") for t in tokens.flat_values.numpy() if t]


# The longest continuation one served request may ask for: it bounds the
# work and memory of a request (a client wanting more continues its own
# output).
MAX_SERVED_LENGTH = 2048


def _generation_rules(most):
    """`(argument, test, what it must be)`; a test takes a number or a tensor."""
    if most is None:
        length = (lambda v: v >= 1, "an integer of at least 1")
    else:
        length = (lambda v: (v >= 1) & (v <= most), f"an integer between 1 and {most}")
    return (
        ("max_length", *length),
        ("temperature", lambda v: v >= 0, "a number of at least 0"),
        ("top_k", lambda v: v >= 0, "an integer of at least 0"),
        ("top_p", lambda v: (v > 0) & (v <= 1), "a number in (0, 1]"),
    )


def check_generation_arguments(max_length, temperature, top_k, top_p, most=None):
    """Raises `ValueError` naming the first generation argument out of range.

    `max_length` and `top_k` must be integers, `temperature` and `top_p`
    numbers; `most` (None: no limit) caps `max_length`.
    """
    values = {"max_length": max_length, "temperature": temperature, "top_k": top_k,
              "top_p": top_p}
    for name, test, expected in _generation_rules(most):
        value = values[name]
        kinds = numbers.Integral if name in ("max_length", "top_k") else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kinds) or not test(value):
            raise ValueError(f"Argument `{name}` must be {expected}. Received: {name}={value!r}")


def checked_generation_arguments(max_length, temperature, top_k, top_p,
                                 most=MAX_SERVED_LENGTH):
    """The four scalar tensors, after in-graph checks of their ranges.

    For a served model whose request carries them: a value out of range
    fails the request with INVALID_ARGUMENT (HTTP 400) and "assertion
    failed: [max_length must be an integer between 1 and 2048. Received:
    max_length=5000]" rather than with an error from deep in the graph, or
    with work and memory the request should not get.
    """
    values = {"max_length": max_length, "temperature": temperature, "top_k": top_k,
              "top_p": top_p}
    checks = [
        tf.debugging.Assert(
            test(values[name]),
            [tf.strings.format(f"{name} must be {expected}. Received: {name}={{}}",
                               values[name])],
            name=f"check_{name}",
        )
        for name, test, expected in _generation_rules(most)
    ]
    with tf.control_dependencies(checks):
        return tuple(tf.identity(values[name]) for name in values)


@keras.saving.register_keras_serializable(package="zoo")
class TextLanguageModel(keras.Model):
    """A language model with its tokenizer: raw text in, text or scores out.

    What a run saves as `model.keras` and what `python -m training.generate`
    loads. Calling it scores texts (`score`); `generate_text` continues
    prompts. Needs the TensorFlow backend (strings).

    Args:
        tokenizer: An adapted `LanguageModelTokenizer`.
        language_model: A `LanguageModel` over the tokenizer's ids (not
            stateful).

    Example:

    >>> from zoo.models.language_model import LanguageModel
    >>> tokenizer = LanguageModelTokenizer("char")
    >>> tokenizer.adapt("to be or not to be")
    >>> model = TextLanguageModel(tokenizer, LanguageModel(
    ...     tokenizer.vocabulary_size, cell="gru", units=8, num_layers=1, embedding_dim=4))
    >>> [len(t) for t in model.generate_text(["to "], max_length=5, seed=0)]
    [5]
    """

    def __init__(self, tokenizer, language_model, **kwargs):
        if getattr(language_model, "stateful", False):
            raise ValueError(
                "Argument `language_model` must not be stateful (a stateful model's "
                "batch size is fixed); use `language_model.stateless_copy()`."
            )
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.language_model = language_model
        self.built = True  # both parts are
        # One trace serves every length and option: they are all tensors.
        self._generate = tf.function(self.generate_ids, reduce_retracing=True)

    def _prompt_ids(self, prompts):
        """Prompts -> right-padded ids and their mask; an empty prompt is a line end."""
        prompts = tf.convert_to_tensor(prompts, tf.string)
        prompts = tf.where(prompts == "", LINE_END, prompts)
        ids = self.tokenizer.tokenize(prompts)
        return ids.to_tensor(), tf.sequence_mask(ids.row_lengths())

    def generate_ids(self, prompts, max_length, temperature, top_k, top_p, seed):
        """Generation with every argument a tensor: the form a graph exports.

        Args:
            prompts: `(batch,)` strings.
            max_length: Scalar int32, the tokens to generate.
            temperature, top_k, top_p: Scalars, as in `LanguageModel.generate`.
            seed: Scalar int64; at least 0 for a repeatable draw (the same
                seed, prompts and options give the same ids), below 0 for a
                fresh one.

        Returns:
            `(batch, max_length)` int32 ids of the continuations.
        """
        ids, mask = self._prompt_ids(prompts)
        shape = tf.stack([tf.shape(ids)[0], max_length])
        seed = tf.cast(seed, tf.int64)
        uniforms = tf.cond(
            seed < 0,
            lambda: tf.random.uniform(shape),
            lambda: tf.random.stateless_uniform(shape, seed=tf.stack([seed, tf.zeros_like(seed)])),
        )
        # The loop's states keep the prompts' static batch size only if the
        # draws have it too.
        uniforms = tf.ensure_shape(uniforms, [ids.shape[0], None])
        return self.language_model.generate(
            ids, mask, max_length, temperature, top_k, top_p, uniforms=uniforms
        )

    def generate_text(self, prompts, max_length=200, temperature=1.0, top_k=0, top_p=1.0,
                      seed=None):
        """Continues each prompt by `max_length` sampled tokens.

        Args:
            prompts: A list of strings; "" starts after a line end.
            max_length, temperature, top_k, top_p: As in
                `LanguageModel.generate`.
            seed: A non-negative integer for a repeatable sample, None for
                a fresh one.

        Returns:
            A list of strings: the continuations, without their prompts.
        """
        check_generation_arguments(max_length, temperature, top_k, top_p)
        if seed is not None and (
                isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(
                f"Argument `seed` must be None or a non-negative integer. Received: seed={seed!r}"
            )
        ids = self._generate(
            tf.constant(list(prompts), tf.string), tf.constant(int(max_length), tf.int32),
            tf.constant(float(temperature)), tf.constant(int(top_k)),
            tf.constant(float(top_p)), tf.constant(-1 if seed is None else int(seed), tf.int64),
        )
        return [t.decode("utf-8") for t in self.tokenizer.detokenize(ids).numpy()]

    def score(self, texts):
        """`(nats, tokens)`: each text's total log-likelihood in nats and the
        number of tokens it covers (every token after the first)."""
        ids = self.tokenizer.tokenize(tf.convert_to_tensor(texts, tf.string))
        return self.language_model.log_likelihood(
            ids.to_tensor(), tf.sequence_mask(ids.row_lengths())
        )

    def call(self, texts):
        return self.score(texts)

    def get_config(self):
        return {
            **super().get_config(),
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "language_model": keras.saving.serialize_keras_object(self.language_model),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tokenizer = keras.saving.deserialize_keras_object(config.pop("tokenizer"))
        language_model = keras.saving.deserialize_keras_object(config.pop("language_model"))
        return cls(tokenizer, language_model, **config)

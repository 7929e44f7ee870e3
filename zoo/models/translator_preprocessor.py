"""Raw sentences <-> token ids for `Translator` (TensorFlow string ops).

Two adapted `TextVectorization` layers (source, target) with `[start]` and
`[end]` on the target side, the standardization both share, detokenization
of predicted ids, and `translate` from raw sentences to raw translations.
Core TF ops only (`tf.strings`, lookup tables, no `py_function`), so it all
traces into a SavedModel beside the model.
"""

import keras
import tensorflow as tf

from zoo.layers.rnn import check_positive_int
from zoo.models.translator import END_ID, END_TOKEN, PAD_ID, START_ID, START_TOKEN

# Sentence punctuation becomes tokens of its own; other symbols are dropped.
_PUNCTUATION = ".,!?;:¿¡"
_KEPT = r"[^\p{L}\p{M}\p{N}'" + _PUNCTUATION + "-]+"


def standardize_text(texts):
    """Lowercases and tokenizes punctuation, with core TF string ops only.

    * Lowercase over all of Unicode ("¿DÓNDE?" -> "¿dónde?").
    * Typographic apostrophes become "'"; apostrophes and hyphens stay
      inside words ("don't", "well-known").
    * `. , ! ? ; : ¿ ¡` become tokens of their own, so a translation can
      be a question and Spanish keeps its opening marks ("¿ dónde ?").
    * Every other symbol (quotes, brackets, "…", "$") is dropped, and runs
      of whitespace become one space.

    Args:
        texts: A string tensor (any shape) or something convertible to one.

    Returns:
        A string tensor of the same shape.
    """
    texts = tf.strings.lower(tf.convert_to_tensor(texts, tf.string), "utf-8")
    texts = tf.strings.regex_replace(texts, "[’‘`´]", "'")
    texts = tf.strings.regex_replace(texts, f"([{_PUNCTUATION}])", r" \1 ")
    texts = tf.strings.regex_replace(texts, _KEPT, " ")
    return tf.strings.strip(texts)


def _join_punctuation(texts):
    """Inverse of the tokenization: "¿ dónde está ?" -> "¿dónde está?"."""
    texts = tf.strings.strip(tf.strings.regex_replace(texts, " +", " "))
    texts = tf.strings.regex_replace(texts, r" ([.,!?;:])", r"\1")
    return tf.strings.regex_replace(texts, r"([¿¡]) ", r"\1")


@keras.saving.register_keras_serializable(package="zoo")
class TranslationVectorizers(keras.layers.Layer):
    """The string side of the translator: two adapted `TextVectorization`s.

    Turns raw sentence pairs into the token ids `Translator` reads, and
    predicted ids back into text. Needs the TensorFlow backend (strings);
    uses core TF ops only (`tf.strings`, hash-table lookups, no
    `py_function`), so its methods can be traced into a SavedModel beside
    the model.

    Text is standardized by `standardize_text` (lowercase; `. , ! ? ; : ¿ ¡`
    split into tokens, other symbols dropped) and split on whitespace.
    Vocabularies are ordered by frequency (ties broken by the token, so the
    order is deterministic); the source vocabulary is `["", "[UNK]", …]` and
    the target vocabulary `["", "[UNK]", "[start]", "[end]", …]`, so padding
    is 0, unknown words 1, [start] 2 and [end] 3. Sentences are cut to `sequence_length` tokens;
    a target cut that way loses its [end].

    Args:
        source_vocab_size: Positive integer, the most source tokens kept,
            padding and [UNK] included.
        target_vocab_size: Positive integer (>= 4), the most target tokens
            kept, padding, [UNK], [start] and [end] included.
        sequence_length: Positive integer, source length and target length
            (tokens y_1 … y_T including [end]) of the id tensors.
        source_vocabulary, target_vocabulary: Optional vocabularies to
            start from (as `get_config` returns them: without padding and
            [UNK]; the target one begins with "[start]", "[end]"); None
            until `adapt`.
        **kwargs: Keras's layer arguments (`name`).

    Call arguments:
        texts: A string tensor `(batch,)` of source sentences.

    Returns:
        `vectorize_source(texts)`.

    Example:

    >>> vectorizers = TranslationVectorizers(sequence_length=6)
    >>> vectorizers.adapt([("¿Dónde está?", "Where is it?"),
    ...                    ("Está aquí.", "It is here.")])
    >>> vectorizers.target_vocabulary[:4]
    ['', '[UNK]', '[start]', '[end]']
    >>> inputs, target_out = vectorizers.teacher_forcing_inputs(
    ...     ["Está aquí."], ["It is here."])
    >>> inputs["source_ids"].numpy().tolist()  # está aquí .
    [[2, 5, 7, 0, 0, 0]]
    >>> inputs["target_in_ids"].numpy().tolist()  # [start] it is here . [end]
    [[2, 4, 5, 7, 9, 3]]
    >>> target_out.numpy().tolist()  # it is here . [end]
    [[4, 5, 7, 9, 3, 0]]
    >>> vectorizers.detokenize(target_out).numpy()[0].decode()
    'it is here.'
    """

    def __init__(
        self,
        source_vocab_size=15_000,
        target_vocab_size=15_000,
        sequence_length=20,
        source_vocabulary=None,
        target_vocabulary=None,
        **kwargs,
    ):
        check_positive_int("source_vocab_size", source_vocab_size)
        check_positive_int("target_vocab_size", target_vocab_size)
        check_positive_int("sequence_length", sequence_length)
        if target_vocab_size < 4:
            raise ValueError(
                "Argument `target_vocab_size` must be at least 4 (padding, "
                "[UNK], [start], [end]). "
                f"Received: target_vocab_size={target_vocab_size!r}"
            )
        if target_vocabulary is not None and list(target_vocabulary[:2]) != [
            START_TOKEN,
            END_TOKEN,
        ]:
            raise ValueError(
                "Argument `target_vocabulary` must begin with "
                f"{[START_TOKEN, END_TOKEN]}. Received: target_vocabulary="
                f"{list(target_vocabulary[:5])!r}..."
            )
        super().__init__(**kwargs)
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.sequence_length = sequence_length
        # Standardization happens in `standardize_text`, before the layers
        # see the text, so that the target markers survive it.
        self.source_vectorizer = keras.layers.TextVectorization(
            max_tokens=source_vocab_size,
            standardize=None,
            split="whitespace",
            output_mode="int",
            output_sequence_length=sequence_length,
            vocabulary=source_vocabulary,
            name="source_vectorizer",
        )
        self.target_vectorizer = keras.layers.TextVectorization(
            max_tokens=target_vocab_size,
            standardize=None,
            split="whitespace",
            output_mode="int",
            # [start] y_1 … y_T: one longer, then shifted into in and out.
            output_sequence_length=sequence_length + 1,
            vocabulary=target_vocabulary,
            name="target_vectorizer",
        )
        # Ids -> tokens for `detokenize`: a lookup table, so that it also
        # works in a graph (and a SavedModel), unlike `get_vocabulary()`.
        self.target_tokens = keras.layers.StringLookup(
            mask_token="",
            invert=True,
            vocabulary=target_vocabulary,
            name="target_tokens",
        )
        # No weights of its own: ready for `ExportArchive.track` as it is.
        self.built = True

    @property
    def source_vocabulary(self):
        """The source vocabulary, index = id: `["", "[UNK]", …]`."""
        return [str(token) for token in self.source_vectorizer.get_vocabulary()]

    @property
    def target_vocabulary(self):
        """The target vocabulary: `["", "[UNK]", "[start]", "[end]", …]`."""
        return [str(token) for token in self.target_vectorizer.get_vocabulary()]

    def adapt(self, pairs, batch_size=1024):
        """Learns both vocabularies from `(source, target)` pairs.

        Args:
            pairs: A non-empty sequence of `(source, target)` strings (the
                training split only, so validation words stay unknown).
            batch_size: Sentences standardized at a time.
        """
        pairs = list(pairs)
        if not pairs:
            raise ValueError("Argument `pairs` must not be empty. Received: pairs=[]")
        sources = [source for source, _ in pairs]
        targets = [target for _, target in pairs]
        for vectorizer, texts in (
            (self.source_vectorizer, sources),
            (self.target_vectorizer, targets),
        ):
            dataset = tf.data.Dataset.from_tensor_slices(texts)
            vectorizer.adapt(dataset.batch(batch_size).map(standardize_text))
        # [start] and [end] take ids 2 and 3, ahead of the learned words.
        learned = self.target_vocabulary[2:]
        markers = [START_TOKEN, END_TOKEN]
        words = [token for token in learned if token not in markers]
        vocabulary = (markers + words)[: self.target_vocab_size - 2]
        self.target_vectorizer.set_vocabulary(vocabulary)
        self.target_tokens.set_vocabulary(vocabulary)

    def vectorize_source(self, texts):
        """Source sentences `(batch,)` -> ids `(batch, sequence_length)` int32."""
        return tf.cast(self.source_vectorizer(standardize_text(texts)), tf.int32)

    def source_words(self, texts):
        """The words behind `vectorize_source`'s ids, even [UNK]'s:
        `(batch, sequence_length)` strings, "" after the last."""
        words = tf.strings.split(standardize_text(texts))[:, : self.sequence_length]
        return words.to_tensor("", shape=[None, self.sequence_length])

    def vectorize_target(self, texts):
        """Targets `(batch,)` -> "[start] … [end]" ids, `(batch,
        sequence_length + 1)` int32."""
        standardized = standardize_text(texts)
        marked = tf.strings.join([START_TOKEN, " ", standardized, " ", END_TOKEN])
        return tf.cast(self.target_vectorizer(marked), tf.int32)

    def teacher_forcing_inputs(self, sources, targets):
        """Raw sentences -> the model's inputs and the targets of the loss.

        Returns:
            `({"source_ids": …, "target_in_ids": …}, target_out_ids)`:
            target_in is [start] y_1 … y_{T-1}, target_out y_1 … y_T ([end]
            included), both `(batch, sequence_length)` and 0-padded.
        """
        target_ids = self.vectorize_target(targets)
        inputs = {
            "source_ids": self.vectorize_source(sources),
            "target_in_ids": target_ids[:, :-1],
        }
        return inputs, target_ids[:, 1:]

    def make_dataset(self, pairs, batch_size=64, shuffle=False, seed=None):
        """A `tf.data.Dataset` of teacher-forcing batches for `Model.fit`.

        Args:
            pairs: A non-empty sequence of `(source, target)` strings.
            batch_size: Positive integer.
            shuffle: Whether to reshuffle the pairs every epoch.
            seed: Seed of the shuffle.

        Returns:
            A dataset of `(inputs, target_out_ids)` as
            `teacher_forcing_inputs` returns them.
        """
        check_positive_int("batch_size", batch_size)
        pairs = list(pairs)
        if not pairs:
            raise ValueError("Argument `pairs` must not be empty. Received: pairs=[]")
        sources = [source for source, _ in pairs]
        targets = [target for _, target in pairs]
        dataset = tf.data.Dataset.from_tensor_slices((sources, targets))
        if shuffle:
            dataset = dataset.shuffle(len(pairs), seed=seed)
        dataset = dataset.batch(batch_size).map(
            self.teacher_forcing_inputs, num_parallel_calls=tf.data.AUTOTUNE
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    def detokenize(self, ids):
        """Predicted target ids -> lowercased text, one string per row.

        Drops [start], padding, [end] and everything after the first [end],
        joins the tokens with spaces and re-attaches punctuation ("¿dónde
        está?"). Unknown words stay "[UNK]".

        Args:
            ids: `(batch, length)` integer ids.

        Returns:
            A `(batch,)` string tensor.
        """
        ids = tf.cast(ids, tf.int64)
        after_end = (
            tf.cumsum(tf.cast(ids == END_ID, tf.int32), axis=-1, exclusive=True) > 0
        )
        keep = (ids != PAD_ID) & (ids != START_ID) & (ids != END_ID) & ~after_end
        # Ids outside the vocabulary come back as "[UNK]".
        tokens = tf.where(keep, self.target_tokens(ids), "")
        return _join_punctuation(tf.strings.reduce_join(tokens, -1, separator=" "))

    def call(self, texts):
        return self.vectorize_source(texts)

    def get_config(self):
        def learned(vocabulary):
            return vocabulary[2:] if len(vocabulary) > 2 else None

        config = {
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "sequence_length": self.sequence_length,
            "source_vocabulary": learned(self.source_vocabulary),
            "target_vocabulary": learned(self.target_vocabulary),
        }
        return {**super().get_config(), **config}


def translate(
    model, vectorizers, texts, beam_width=1, max_length=None, length_penalty=0.0
):
    """Raw source sentences -> detokenized, lowercased translations.

    Args:
        model: A `Translator`.
        vectorizers: The `TranslationVectorizers` it was trained with.
        texts: A list of source sentences.
        beam_width: 1 for greedy decoding, more for beam search.
        max_length: Target tokens at most; `vectorizers.sequence_length`
            when None.
        length_penalty: α of the beam search's length penalty.

    Returns:
        A list of Python strings.
    """
    max_length = max_length or vectorizers.sequence_length
    source_ids = vectorizers.vectorize_source(list(texts))
    if beam_width == 1:
        ids = model.greedy_decode(source_ids, max_length=max_length)
    else:
        ids = model.beam_search(
            source_ids,
            beam_width=beam_width,
            max_length=max_length,
            length_penalty=length_penalty,
        )
    return [text.decode("utf-8") for text in vectorizers.detokenize(ids).numpy()]




def checked_beam_width(beam_width, most):
    """`beam_width`, a scalar int32 tensor, after an in-graph check that it is
    in 1..`most`.

    For a served translator whose request carries the beam width: a width
    out of range fails the request with INVALID_ARGUMENT (HTTP 400) and
    "assertion failed: [beam_width must be between 1 and 8 (the beam widths
    this model serves). Received: beam_width=9]", rather than an error from
    deep inside the graph.

    Args:
        beam_width: A scalar integer tensor.
        most: Python int, the widest beam the graph has a branch for.
    """
    check_positive_int("most", most)
    in_range = tf.logical_and(beam_width >= 1, beam_width <= most)
    message = tf.strings.format(
        f"beam_width must be between 1 and {most} (the beam widths this model "
        "serves). Received: beam_width={}",
        beam_width,
    )
    check = tf.debugging.Assert(in_range, [message], name="check_beam_width")
    with tf.control_dependencies([check]):
        return tf.identity(beam_width)


@keras.saving.register_keras_serializable(package="zoo")
class StringTranslator(keras.Model):
    """Raw source sentences in, raw translations out: vectorizers + model.

    What a training run saves as `model.keras`. Needs the TensorFlow backend.

    Args:
        vectorizers: The fitted `TranslationVectorizers`.
        translator: The trained `Translator`.
        beam_width: 1 for greedy decoding, more for beam search.
        length_penalty: α of the beam search's length penalty.

    Call arguments:
        texts: A string tensor `(batch,)`.

    Returns a string tensor `(batch,)`.
    """

    def __init__(self, vectorizers, translator, beam_width=1, length_penalty=0.0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("beam_width", beam_width)
        # Checked here, not at the first call, which may be long after
        # (at the end of a training run, or in a server).
        if beam_width > translator.max_beam_width:
            raise ValueError(
                f"Argument `beam_width` must be at most {translator.max_beam_width} (the "
                f"translator's {translator.target_vocab_size} target tokens less padding "
                f"and [start]). Received: beam_width={beam_width!r}"
            )
        self.vectorizers = vectorizers
        self.translator = translator
        self.beam_width = beam_width
        self.length_penalty = length_penalty
        self.built = True  # its parts are built; it has no weights of its own

    def call(self, texts):
        source_ids = self.vectorizers.vectorize_source(texts)
        max_length = self.vectorizers.sequence_length
        if self.beam_width == 1:
            ids = self.translator.greedy_decode(source_ids, max_length=max_length)
        else:
            ids = self.translator.beam_search(
                source_ids,
                beam_width=self.beam_width,
                max_length=max_length,
                length_penalty=self.length_penalty,
            )
        return self.vectorizers.detokenize(ids)

    def get_build_config(self):
        return None  # nothing to build: the parts are built when made

    def get_config(self):
        return {
            **super().get_config(),
            "vectorizers": keras.saving.serialize_keras_object(self.vectorizers),
            "translator": keras.saving.serialize_keras_object(self.translator),
            "beam_width": self.beam_width,
            "length_penalty": self.length_penalty,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("vectorizers", "translator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

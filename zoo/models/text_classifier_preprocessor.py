"""Raw strings -> token ids for `TextClassifier` (TensorFlow string ops).

One `keras.layers.TextVectorization`, adapted on the training texts:
lowercase, then either strip punctuation (Keras's default) or keep each
punctuation mark as a token of its own (headline punctuation such as quotes
and colons carries signal), split on whitespace, keep the `max_tokens` most
frequent tokens (0 is padding, 1 the out-of-vocabulary token), and pad or
cut every text to `sequence_length` ids. Its ops are core TensorFlow string
ops, so it can sit inside an exported SavedModel graph in front of the
classifier.
"""

import keras
import tensorflow as tf

STANDARDIZE = ("lower_and_strip_punctuation", "lower_and_split_punctuation")


@keras.saving.register_keras_serializable(package="zoo")
def lower_and_split_punctuation(text):
    """Lowercases and puts spaces around every punctuation mark."""
    text = tf.strings.lower(text)
    return tf.strings.regex_replace(text, r"([^\w\s])", r" \1 ")


def text_vectorizer(
    texts,
    max_tokens=20000,
    sequence_length=40,
    standardize="lower_and_strip_punctuation",
    name="vectorizer",
    vocabulary=None,
):
    """A `TextVectorization` layer adapted on `texts` (or given `vocabulary`)."""
    if standardize not in STANDARDIZE:
        raise ValueError(
            f"Argument `standardize` must be one of {STANDARDIZE}. "
            f"Received: standardize={standardize!r}"
        )
    for arg, value in (("max_tokens", max_tokens), ("sequence_length", sequence_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 1:
            raise ValueError(
                f"Argument `{arg}` must be an integer above 1. Received: {arg}={value!r}"
            )
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=(
            lower_and_split_punctuation
            if standardize == "lower_and_split_punctuation"
            else standardize
        ),
        output_mode="int",
        output_sequence_length=sequence_length,
        vocabulary=vocabulary,
        name=name,
    )
    if vocabulary is None:
        vectorizer.adapt(list(texts), batch_size=1024)
    return vectorizer


# TextVectorization's "lower_and_strip_punctuation" pattern: every ASCII
# punctuation mark.
_STRIPPED = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def words_as_vectorized(vectorizer, texts):
    """The words a vectorizer's ids stand for, as strings.

    Standardized and split as `vectorizer` does it and cut to its sequence
    length, so that word t is the one behind id t, and shows the word even
    where the id is [UNK].

    Args:
        vectorizer: A `TextVectorization` made by `text_vectorizer`.
        texts: `(batch,)` strings.

    Returns:
        `(batch, sequence_length)` strings, "" after the last word.
    """
    config = vectorizer.get_config()
    standardize = config["standardize"]
    texts = tf.convert_to_tensor(texts, tf.string)
    if callable(standardize):
        texts = standardize(texts)
    elif standardize == "lower_and_strip_punctuation":
        texts = tf.strings.regex_replace(tf.strings.lower(texts), _STRIPPED, "")
    elif standardize is not None:
        raise ValueError(
            f"Argument `vectorizer` must standardize as `text_vectorizer` does "
            f"({STANDARDIZE}). Received: standardize={standardize!r}"
        )
    words = tf.strings.split(texts)[:, : config["output_sequence_length"]]
    return words.to_tensor("", shape=[None, config["output_sequence_length"]])


def string_classifier(vectorizer, classifier, name="text_classifier"):
    """The end-to-end model: raw strings `(batch,)` -> class probabilities."""
    text = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(text, classifier(vectorizer(text)), name=name)

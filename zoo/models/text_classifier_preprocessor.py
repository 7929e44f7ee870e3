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


def string_classifier(vectorizer, classifier, name="text_classifier"):
    """The end-to-end model: raw strings `(batch,)` -> class probabilities."""
    text = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(text, classifier(vectorizer(text)), name=name)

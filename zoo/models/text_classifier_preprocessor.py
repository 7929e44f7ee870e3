"""Raw strings -> token ids for `TextClassifier` (TensorFlow string ops).

One `keras.layers.TextVectorization`, adapted on the training texts:
lowercase, strip punctuation, split on whitespace, keep the `max_tokens`
most frequent words (0 is padding, 1 the out-of-vocabulary token), and pad
or cut every text to `sequence_length` ids. Its ops are core TensorFlow
ops, so it can sit inside an exported SavedModel graph in front of the
classifier.
"""

import keras


def text_vectorizer(texts, max_tokens=20000, sequence_length=40, name="vectorizer"):
    """A `TextVectorization` layer adapted on `texts`."""
    for arg, value in (("max_tokens", max_tokens), ("sequence_length", sequence_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 1:
            raise ValueError(
                f"Argument `{arg}` must be an integer above 1. Received: {arg}={value!r}"
            )
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize="lower_and_strip_punctuation",
        output_mode="int",
        output_sequence_length=sequence_length,
        name=name,
    )
    vectorizer.adapt(list(texts), batch_size=1024)
    return vectorizer


def string_classifier(vectorizer, classifier, name="text_classifier"):
    """The end-to-end model: raw strings `(batch,)` -> class probabilities."""
    text = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(text, classifier(vectorizer(text)), name=name)

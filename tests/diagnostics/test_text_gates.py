"""zoo.diagnostics.text_gates: raw text in, every model's gates per token out."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.diagnostics.text_gates import text_gates
from zoo.models.text_classifier import TextClassifier
from zoo.models.text_classifier_preprocessor import (string_classifier, text_vectorizer,
                                                     words_as_vectorized)

pytestmark = pytest.mark.tensorflow_only

TEXTS = ["the cat sat on the mat", "a dog, barking!", "cat"]


def classifier(standardize="lower_and_split_punctuation", **options):
    vectorizer = text_vectorizer(TEXTS, max_tokens=12, sequence_length=6,
                                 standardize=standardize)
    keras.utils.set_random_seed(0)
    core = TextClassifier(len(vectorizer.get_vocabulary()), 3, units=4, embedding_dim=4,
                          attention_units=4, **options)
    return string_classifier(vectorizer, core), vectorizer, core


@pytest.mark.parametrize("standardize, expected", [
    ("lower_and_split_punctuation", [b"a", b"dog", b",", b"barking", b"!", b""]),
    ("lower_and_strip_punctuation", [b"a", b"dog", b"barking", b"", b"", b""]),
])
def test_words_line_up_with_the_ids_and_show_unknown_words(standardize, expected):
    _, vectorizer, _ = classifier(standardize)
    texts = tf.constant(["A dog, barking!", "zebras everywhere and more words than six fit"])
    words = words_as_vectorized(vectorizer, texts).numpy()
    assert words[0].tolist() == expected
    ids = vectorizer(texts).numpy()
    assert np.array_equal(words != b"", ids != 0)
    assert words[1, 0] == b"zebras" and ids[1, 0] == 1  # [UNK], shown as the word


@pytest.mark.parametrize("options", [
    {"cell": "lstm", "pooling": "attention"},
    {"cell": "original_lstm", "pooling": "mean", "bidirectional": False},
    {"cell": "gru", "pooling": "last", "ensemble_size": 2},
])
def test_the_score_is_the_predicted_class_log_probability(options):
    model, _, core = classifier(**options)
    gates = text_gates(model, TEXTS)
    probabilities = model.predict(np.array(TEXTS, dtype=object), verbose=0)
    np.testing.assert_allclose(gates["score"].numpy(), np.log(probabilities.max(axis=1)),
                               atol=1e-5)
    assert gates["token_count"].numpy().tolist() == [6, 5, 1]
    layers = {key.rsplit("/", 2)[0] for key in gates if "/" in key}
    expected = {layer.name for layer in core.recurrent_layers()}
    assert layers == expected
    for key, value in gates.items():
        if key.endswith("/importance"):
            assert value.shape == (3, 4) and np.all(value.numpy() >= 0)


def test_a_model_of_another_kind_is_refused_by_name():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="dense_net")
    with pytest.raises(ValueError, match="Received: Sequential 'dense_net'"):
        text_gates(plain, TEXTS)

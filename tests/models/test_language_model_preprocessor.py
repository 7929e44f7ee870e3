"""zoo.models.language_model_preprocessor: character and word tokenizers,
and the text-level model that generates and scores."""

import keras
import numpy as np
import pytest

from zoo.models.language_model import LanguageModel
from zoo.models.language_model_preprocessor import (
    LanguageModelTokenizer,
    TextLanguageModel,
)

pytestmark = pytest.mark.tensorflow_only

TEXT = "To be, or not to be:\nthat is the question.\nWhether 'tis nobler\n"


def test_characters_in_code_point_order_and_unknown_ones_as_one():
    tokenizer = LanguageModelTokenizer("char")
    tokenizer.adapt(TEXT)
    vocabulary = tokenizer.vocabulary
    assert vocabulary[:2] == ["", "[UNK]"]
    assert vocabulary[2:] == sorted(set(TEXT))
    ids = tokenizer.encode("to bez")
    assert ids[-1] == 1 and ids.min() >= 1
    # encode (NumPy) and tokenize (TF ops, as exported) agree
    np.testing.assert_array_equal(tokenizer.tokenize(["to bez"]).to_list()[0], ids)
    round_trip = tokenizer.detokenize(tokenizer.encode(TEXT)[None, :])[0].numpy().decode()
    assert round_trip == TEXT


def test_char_vocabulary_keeps_the_most_frequent_with_max_tokens():
    tokenizer = LanguageModelTokenizer("char", max_tokens=5)
    tokenizer.adapt("aaaa bbb cc d")
    assert tokenizer.vocabulary == ["", "[UNK]", " ", "a", "b"]


def test_words_lowercased_punctuation_apart_and_line_ends_as_tokens():
    tokenizer = LanguageModelTokenizer("word")
    tokenizer.adapt(TEXT)
    vocabulary = tokenizer.vocabulary
    assert "\n" in vocabulary and "," in vocabulary and "To" not in vocabulary
    assert vocabulary[2] in ("be", "to", "\n")  # the most frequent first
    ids = tokenizer.encode("To be, or not.\nZebra")
    tokens = [vocabulary[i] for i in ids]
    assert tokens == ["to", "be", ",", "or", "not", ".", "\n", "[UNK]"]
    text = tokenizer.detokenize(ids[None, :])[0].numpy().decode()
    assert text == "to be, or not.\n[UNK]"


def test_max_tokens_limits_the_word_vocabulary():
    tokenizer = LanguageModelTokenizer("word", max_tokens=4)
    tokenizer.adapt("b a b c b a")
    assert tokenizer.vocabulary == ["", "[UNK]", "b", "a"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"level": "byte"}, "level='byte'"),
        ({"max_tokens": 2}, "max_tokens=2"),
        ({"vocabulary": ["a", "a"]}, "distinct"),
        ({"vocabulary": ["a", "[UNK]"]}, "distinct"),
    ],
)
def test_bad_tokenizer_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        LanguageModelTokenizer(**kwargs)


def test_an_unadapted_tokenizer_says_so():
    with pytest.raises(ValueError, match="adapt"):
        LanguageModelTokenizer("char").encode("x")


def text_model(level="char"):
    tokenizer = LanguageModelTokenizer(level)
    tokenizer.adapt(TEXT)
    model = LanguageModel(tokenizer.vocabulary_size, cell="gru", units=8, num_layers=1,
                          embedding_dim=4)
    return TextLanguageModel(tokenizer, model)


def test_generated_text_has_the_length_asked_and_repeats_by_seed():
    model = text_model()
    a = model.generate_text(["To be", ""], max_length=12, seed=3, temperature=0.7)
    assert [len(t) for t in a] == [12, 12]
    assert model.generate_text(["To be", ""], max_length=12, seed=3, temperature=0.7) == a
    assert model.generate_text(["To be", ""], max_length=12, seed=4, temperature=0.7) != a
    assert all(set(t) <= set(TEXT) for t in a)  # no [UNK], no padding


def test_score_is_the_models_log_likelihood_of_the_tokens():
    model = text_model("word")
    nats, tokens = model.score(["to be or not", "that is"])
    ids = model.tokenizer.encode("to be or not")[None, :]
    expected, count = model.language_model.log_likelihood(ids)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(nats)[0],
                               keras.ops.convert_to_numpy(expected)[0], rtol=1e-5)
    assert keras.ops.convert_to_numpy(tokens).tolist() == [3, 1]


def test_keras_file_round_trip(tmp_path):
    model = text_model()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.generate_text(["To"], 20, seed=1) == model.generate_text(["To"], 20, seed=1)
    assert loaded.tokenizer.vocabulary == model.tokenizer.vocabulary


def test_a_stateful_model_is_refused():
    tokenizer = LanguageModelTokenizer("char", vocabulary=list("ab"))
    stateful = LanguageModel(4, units=4, num_layers=1, embedding_dim=2, stateful=True,
                             batch_size=2)
    with pytest.raises(ValueError, match="stateless_copy"):
        TextLanguageModel(tokenizer, stateful)

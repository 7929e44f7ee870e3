"""zoo.models.TextClassifier, its attention pooling, and its preprocessor."""

import keras
import numpy as np
import pytest

from zoo.models.text_classifier import (
    AttentionPooling,
    MemberAverage,
    TextClassifier,
    TokenDropout,
)

TOKENS = np.array([[5, 7, 9, 0, 0], [3, 4, 0, 0, 0], [8, 8, 8, 8, 2]], "int32")


@pytest.mark.parametrize("cell, options", [
    ("lstm", {"variant": "CIFG"}), ("gru", {"reset_after": False}),
    ("original_lstm", {"block_size": 2}),
])
@pytest.mark.parametrize("pooling", ["attention", "mean", "last"])
def test_probabilities_for_every_family_and_pooling(cell, options, pooling):
    model = TextClassifier(30, 3, cell=cell, cell_options=options, units=4,
                           embedding_dim=4, attention_units=4, pooling=pooling,
                           num_layers=2)
    scores = keras.ops.convert_to_numpy(model(TOKENS))
    assert scores.shape == (3, 3)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("pooling", ["attention", "mean", "last"])
def test_padding_does_not_change_the_prediction(pooling):
    model = TextClassifier(30, 2, units=4, embedding_dim=4, attention_units=4,
                           pooling=pooling, dropout=0.0)
    short = keras.ops.convert_to_numpy(model(TOKENS[:1, :3]))
    padded = keras.ops.convert_to_numpy(model(TOKENS[:1]))
    np.testing.assert_allclose(short, padded, atol=1e-6)


def test_attention_pooling_weights_real_steps_only():
    layer = AttentionPooling(3)
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    pooled = keras.ops.convert_to_numpy(layer(x, mask=mask))
    x_changed = x.copy()
    x_changed[0, 2:] = 100.0  # masked steps
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x_changed, mask=mask)), pooled, atol=1e-6)
    # A weighted mean: inside the range of the unmasked steps.
    assert np.all(pooled[0] <= x[0, :2].max(0) + 1e-6)
    assert np.all(pooled[0] >= x[0, :2].min(0) - 1e-6)


def test_token_dropout_replaces_real_tokens_by_unknown_in_training_only():
    layer = TokenDropout(0.5, seed=3)
    ids = np.tile(np.array([[5, 6, 7, 8, 9, 10, 0, 0]], "int32"), (200, 1))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ids)), ids)
    dropped = keras.ops.convert_to_numpy(layer(ids, training=True))
    changed = dropped != ids
    assert np.all(dropped[changed] == 1)  # only ever [UNK]
    assert not changed[:, 6:].any()  # padding stays padding
    assert 0.4 < changed[:, :6].mean() < 0.6
    # Fresh draws on every call.
    assert (keras.ops.convert_to_numpy(layer(ids, training=True)) != dropped).any()
    with pytest.raises(ValueError, match="rate=1.5"):
        TokenDropout(1.5)


def test_token_dropout_in_the_classifier_is_serialised(tmp_path):
    model = TextClassifier(30, 2, units=4, embedding_dim=4, attention_units=4,
                           token_dropout=0.2)
    assert model.get_layer("token_dropout").rate == 0.2
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert restored.get_config()["token_dropout"] == 0.2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(TOKENS)),
                               keras.ops.convert_to_numpy(model(TOKENS)), atol=1e-6)


def test_config_round_trip_and_keras_file(tmp_path):
    model = TextClassifier(30, 2, cell="gru", units=4, embedding_dim=4,
                           attention_units=4, name="clf")
    clone = TextClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(TOKENS)),
                               keras.ops.convert_to_numpy(model(TOKENS)), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, "num_classes=1"),
    ({"units": 0}, "units=0"),
    ({"cell": "transformer"}, "cell='transformer'"),
    ({"pooling": "max"}, "pooling='max'"),
    ({"attention_units": -1}, "units=-1"),
    ({"ensemble_size": 0}, "ensemble_size=0"),
])
def test_bad_arguments_are_named(kwargs, message):
    options = {"vocabulary_size": 30, "num_classes": 2, "units": 4, "embedding_dim": 4}
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TextClassifier(**options)


def _members(count, **kwargs):
    options = dict(vocabulary_size=30, num_classes=3, cell="gru", units=4,
                   embedding_dim=4, attention_units=4, num_layers=2)
    options.update(kwargs)
    return [TextClassifier(**options, name=f"m{k}") for k in range(count)]


def test_member_average_is_the_mean_of_the_probabilities():
    p = [np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.5, 0.5], [0.4, 0.6]]),
         np.array([[0.1, 0.9], [0.0, 1.0]])]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(MemberAverage()(p)),
                               [[0.5, 0.5], [0.2, 0.8]], atol=1e-6)


def test_an_ensemble_from_members_computes_the_mean_of_its_members(tmp_path):
    members = _members(3)
    ensemble = TextClassifier.from_members(members, name="ensemble")
    assert ensemble.ensemble_size == 3 and ensemble.name == "ensemble"
    assert len(ensemble.recurrent_layers()) == 6  # 2 layers x 3 members
    expected = np.mean([keras.ops.convert_to_numpy(m(TOKENS)) for m in members], 0)
    # Members start from different random weights: their mean is not member 0.
    assert not np.allclose(expected, keras.ops.convert_to_numpy(members[0](TOKENS)), atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ensemble(TOKENS)), expected, atol=1e-6)
    # Saved and loaded like any classifier.
    ensemble.save(tmp_path / "e.keras")
    restored = keras.saving.load_model(tmp_path / "e.keras", safe_mode=True)
    assert restored.get_config() == ensemble.get_config()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(TOKENS)), expected, atol=1e-6)


def test_an_ensemble_of_mismatched_members_is_refused():
    with pytest.raises(ValueError, match=r"member 1 has units=5, member 0 units=4"):
        TextClassifier.from_members(_members(1) + _members(1, units=5))
    with pytest.raises(ValueError, match=r"at least 2 members. Received: 1"):
        TextClassifier.from_members(_members(1))
    nested = TextClassifier(30, 3, units=4, embedding_dim=4, ensemble_size=2)
    with pytest.raises(ValueError, match=r"Member 0 is itself an ensemble. Received: ensemble_size=2"):
        TextClassifier.from_members([nested, nested])


@pytest.mark.tensorflow_only
def test_preprocessor_keeps_punctuation_as_tokens_when_asked():
    from zoo.models.text_classifier_preprocessor import string_classifier, text_vectorizer

    texts = ['area man: "i\'m fine"', "why? because."]
    split = text_vectorizer(texts, 50, 8, "lower_and_split_punctuation")
    stripped = text_vectorizer(texts, 50, 8)
    assert {":", "?", '"'} <= set(split.get_vocabulary())
    assert ":" not in stripped.get_vocabulary()
    model = string_classifier(split, TextClassifier(len(split.get_vocabulary()), 2, units=4,
                                                    embedding_dim=4, attention_units=4))
    assert tuple(model(np.array(["why?", "area man"])).shape) == (2, 2)
    with pytest.raises(ValueError, match="standardize='lower'"):
        text_vectorizer(texts, 50, 8, "lower")


def test_docstring_examples_run():
    from tests.doctests import run_docstring_examples
    from zoo.models import text_classifier

    results = run_docstring_examples([text_classifier])
    assert results.attempted >= 9  # TextClassifier's, MemberAverage's, TokenDropout's
    assert results.failed == 0

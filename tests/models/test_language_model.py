"""zoo.models.language_model: reading, stepping and generating compute one
function; sampling filters; log-likelihood; stateful streams; the argument
checks."""

import keras
import numpy as np
import pytest

from zoo.models.language_model import LanguageModel, sample

CELLS = ["lstm", "gru", "min_gru", "mlstm", "slstm"]


def small(cell="gru", **kwargs):
    options = {"units": 8, "num_layers": 2, "embedding_dim": 6, **kwargs}
    if cell in ("mlstm", "slstm"):
        options["cell_options"] = {"num_heads": 2}
    return LanguageModel(20, cell=cell, **options)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def random_ids(shape, seed=0):
    return np.random.default_rng(seed).integers(2, 20, size=shape).astype("int32")


@pytest.mark.parametrize("cell", CELLS)
def test_stepping_the_cells_continues_reading_the_sequence(cell):
    # O(1) generation rests on this: prime a prefix, then step token by
    # token from the carried states, and get the logits a full read gives.
    model = small(cell)
    ids = random_ids((3, 9))
    full = numpy(model(ids))
    logits, states = model.prime(ids[:, :5])
    np.testing.assert_allclose(numpy(logits), full[:, 4], atol=1e-5)
    for t in range(5, 9):
        logits, states = model.step(ids[:, t], states)
        np.testing.assert_allclose(numpy(logits), full[:, t], atol=1e-5)


def test_priming_right_padded_prompts_reads_each_to_its_last_token():
    model = small()
    ids = random_ids((2, 7))
    mask = np.ones((2, 7), bool)
    mask[1, 3:] = False
    logits, _ = model.prime(ids * mask, mask)
    np.testing.assert_allclose(numpy(logits)[1], numpy(model(ids[1:, :3]))[0, -1], atol=1e-5)
    np.testing.assert_allclose(numpy(logits)[0], numpy(model(ids[:1]))[0, -1], atol=1e-5)


def test_greedy_generation_follows_the_argmax_of_a_full_read():
    model = small("lstm")
    prompt = random_ids((2, 4))
    generated = numpy(model.generate(prompt, max_length=8, temperature=0.0))
    logits = numpy(model(np.concatenate([prompt, generated], axis=1)))
    # Each generated token is the most probable one (padding and [UNK] aside).
    logits[..., :2] = -np.inf
    np.testing.assert_array_equal(generated, logits[:, 3:-1].argmax(-1))


def test_sampling_is_repeatable_by_seed_and_never_draws_padding_or_unknown():
    model = small()
    prompt = random_ids((4, 3))
    a = numpy(model.generate(prompt, max_length=30, seed=5))
    b = numpy(model.generate(prompt, max_length=30, seed=5))
    c = numpy(model.generate(prompt, max_length=30, seed=6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 2 and c.min() >= 2


def test_sample_filters_by_temperature_top_k_and_top_p():
    # p = (0.5, 0.3, 0.15, 0.05); draws u pick by the cumulative distribution.
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]] * 4, "float32"))
    u = np.array([0.1, 0.6, 0.85, 0.99], "float32")
    assert numpy(sample(logits, 1.0, 0, 1.0, u)).tolist() == [0, 1, 2, 3]
    # top-k 2 keeps (0.5, 0.3), renormalised to (0.625, 0.375)
    assert numpy(sample(logits, 1.0, 2, 1.0, u)).tolist() == [0, 0, 1, 1]
    # top-p 0.7: 0.5 alone is under 0.7, so 0.3 joins; 0.15 does not
    assert numpy(sample(logits, 1.0, 0, 0.7, u)).tolist() == [0, 0, 1, 1]
    # top-p 0.85 takes the third token too
    assert numpy(sample(logits, 1.0, 0, 0.85, u)).tolist() == [0, 1, 2, 2]
    assert numpy(sample(logits, 0.0, 0, 1.0, u)).tolist() == [0, 0, 0, 0]
    # A low temperature sharpens: 0.5^(1/0.25) dominates
    assert numpy(sample(logits, 0.25, 0, 1.0, u)).tolist() == [0, 0, 0, 1]


def test_log_likelihood_sums_the_log_probabilities_of_each_next_token():
    model = small()
    ids = random_ids((2, 6))
    mask = np.ones((2, 6), bool)
    mask[1, 4:] = False
    total, count = model.log_likelihood(ids, mask)
    log_probs = numpy(keras.ops.log_softmax(model(ids), axis=-1))
    expected = [
        sum(log_probs[row, t, ids[row, t + 1]] for t in range(length - 1))
        for row, length in enumerate([6, 4])
    ]
    np.testing.assert_allclose(numpy(total), expected, rtol=1e-5)
    assert numpy(count).tolist() == [5, 3]


def test_a_stateful_model_carries_its_state_across_windows_until_reset():
    model = small("lstm", stateful=True, batch_size=2)
    ids = random_ids((2, 10))
    whole = numpy(small_copy(model)(ids))
    model.reset_states()
    first, second = numpy(model(ids[:, :6])), numpy(model(ids[:, 6:]))
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, atol=1e-5)
    model.reset_states()
    np.testing.assert_allclose(numpy(model(ids[:, :6])), first, atol=1e-6)


def small_copy(model):
    copy = model.stateless_copy()
    assert not copy.stateful
    return copy


def test_tied_embeddings_share_the_matrix_and_size_the_last_layer():
    tied = small("lstm", tie_embeddings=True, units=12)
    untied = small("lstm", units=12)
    assert tied.recurrent[-1].cell.units == 6 and tied.recurrent[0].cell.units == 12
    assert tied.count_params() < untied.count_params()
    # The logits are the last layer's outputs scored against E.
    h = np.random.default_rng(1).normal(size=(2, 6)).astype("float32")
    expected = h @ numpy(tied.embedding.embeddings).T + numpy(tied.output_bias)
    np.testing.assert_allclose(numpy(tied.logits(h)), expected, rtol=1e-5, atol=1e-6)


def test_locked_dropout_uses_one_mask_per_sequence():
    model = small("gru", dropout=0.5, num_layers=1)
    x = numpy(model.embedding(random_ids((2, 5))))
    dropped = numpy(model.dropouts[0](x, training=True))
    zeroed = dropped == 0
    assert zeroed.any()
    assert (zeroed == zeroed[:, :1]).all()  # the same features at every step


def test_keras_file_round_trip(tmp_path):
    model = small("min_gru", tie_embeddings=True, dropout=0.1)
    ids = random_ids((2, 5))
    model.save(tmp_path / "lm.keras")
    loaded = keras.saving.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(numpy(loaded(ids)), numpy(model(ids)), atol=1e-6)
    assert loaded.get_config() == model.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocab_size": 0}, "vocab_size=0"),
        ({"cell": "transformer"}, "cell='transformer'"),
        ({"units": -3}, "units=-3"),
        ({"dropout": 1.5}, "dropout=1.5"),
        ({"tie_embeddings": "yes"}, "tie_embeddings='yes'"),
        ({"stateful": True}, "batch_size=None"),
        ({"cell_options": ["variant"]}, "cell_options=['variant']"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    arguments = {"vocab_size": 20, **kwargs}
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        LanguageModel(**arguments)


def test_generate_refuses_a_bad_length():
    with pytest.raises(ValueError, match="max_length=0"):
        small().generate(random_ids((1, 2)), max_length=0)

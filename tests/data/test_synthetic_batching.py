"""pad_batch: zero-padding generated sequences into a batch."""

import numpy as np
import pytest

from zoo.data.synthetic import (
    adding_batch,
    adding_sequence,
    pad_batch,
    reber_sequence,
    temporal_order_sequence,
    two_sequence,
)


def test_per_step_targets_are_padded_like_the_inputs():
    strings = ["BTBTXSETE", "BPBPTVPSEPE", "BTBTSSXSETE"]
    sequences = [reber_sequence(s) for s in strings]
    inputs, targets, lengths = pad_batch(sequences)
    assert inputs.shape == targets.shape == (3, 10, 7)
    assert inputs.dtype == targets.dtype == np.float32
    np.testing.assert_array_equal(lengths, [8, 10, 10])
    for row, (x, y) in enumerate(sequences):
        np.testing.assert_array_equal(inputs[row, : len(x)], x)
        np.testing.assert_array_equal(targets[row, : len(y)], y)
        assert not inputs[row, len(x) :].any() and not targets[row, len(y) :].any()


def test_end_targets_are_stacked():
    rng = np.random.default_rng(0)
    sequences = [temporal_order_sequence(rng, "a") for _ in range(5)]
    inputs, targets, lengths = pad_batch(sequences)
    assert inputs.shape == (5, lengths.max(), 8) and targets.shape == (5, 4)
    np.testing.assert_array_equal(targets, np.stack([t for _, t in sequences]))
    real = inputs.any(-1)  # one-hot steps are never all zeros
    for row, length in zip(real, lengths):
        assert row[:length].all() and not row[length:].any()
    _, targets, _ = pad_batch([two_sequence(rng, 20, 1) for _ in range(4)])
    assert targets.shape == (4, 1)
    _, targets, _ = pad_batch([(np.ones((3, 2)), 0.5), (np.ones((2, 2)), 0.25)])
    np.testing.assert_array_equal(targets, np.array([0.5, 0.25], "float32"))


def test_adding_batch_is_a_padded_batch_of_adding_sequences():
    inputs, targets, lengths = adding_batch(np.random.default_rng(3), 6, 30)
    rng = np.random.default_rng(3)
    sequences = [adding_sequence(rng, 30) for _ in range(6)]
    expected = pad_batch([(x, [t]) for x, t in sequences])
    for got, want in zip((inputs, targets, lengths), expected):
        np.testing.assert_array_equal(got, want)
    assert targets.shape == (6, 1) and targets.dtype == np.float32


def test_bad_batches():
    with pytest.raises(ValueError, match=r"sequences=\[\]"):
        pad_batch([])
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        pad_batch([(np.ones((2, 3)), 1.0), (np.ones((2, 4)), 1.0)])
    with pytest.raises(ValueError, match="per-step"):
        pad_batch([(np.ones((2, 3)), np.ones((2, 3))), (np.ones((2, 3)), [1.0])])
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        pad_batch([(np.ones((3, 3)), np.ones((4, 3)))])

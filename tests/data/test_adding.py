"""The adding problem generator follows Hochreiter & Schmidhuber 1997, Exp. 4."""

import numpy as np
import pytest

from zoo.data.synthetic import adding_batch, adding_sequence


@pytest.mark.parametrize("T", [20, 100, 1000])
def test_sequences_follow_the_papers_rules(T):
    rng = np.random.default_rng(0)
    for _ in range(300):
        pairs, target = adding_sequence(rng, T)
        values, markers = pairs[:, 0], pairs[:, 1]
        assert T <= len(pairs) <= T + T // 10
        assert np.all(np.abs(values) <= 1.0)
        marked = np.flatnonzero(markers == 1.0)
        assert len(marked) == 2
        # One mark among the first ten pairs, the other among the first
        # T/2 - 1 pairs left unmarked: both lie before T/2 (T >= 20), so
        # the lag to the end is at least T/2.
        assert marked.min() < 10
        assert marked.max() < T // 2
        assert len(pairs) - marked.max() >= T // 2
        others = np.delete(markers, marked)
        assert set(np.unique(others)) <= {0.0, -1.0}
        if 0 not in marked:
            assert markers[0] == -1.0
        else:
            assert values[0] == 0.0
        assert markers[-1] == -1.0
        assert target == pytest.approx(0.5 + values[marked].sum() / 4.0, abs=1e-6)
        assert 0.0 <= target <= 1.0


def test_seeded_generation_is_reproducible_and_varied():
    a = adding_batch(np.random.default_rng(7), 16, 50)
    b = adding_batch(np.random.default_rng(7), 16, 50)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    targets = a[1].ravel()
    assert targets.std() > 0.05
    assert len(set(a[2])) > 1  # lengths vary within [T, T + T/10]


def test_padding_is_distinguishable_from_data():
    inputs, targets, lengths = adding_batch(np.random.default_rng(1), 32, 40)
    assert inputs.shape == (32, lengths.max(), 2)
    assert targets.shape == (32, 1)
    for row, length in zip(inputs, lengths):
        real = np.any(row != 0.0, axis=-1)
        assert real[:length].all() and not real[length:].any()


def test_fixed_length_and_bad_arguments():
    pairs, _ = adding_sequence(np.random.default_rng(2), 100, length=100)
    assert len(pairs) == 100
    with pytest.raises(ValueError, match="T=2"):
        adding_sequence(np.random.default_rng(2), 2)
    with pytest.raises(ValueError, match="length=10"):
        adding_sequence(np.random.default_rng(2), 100, length=10)

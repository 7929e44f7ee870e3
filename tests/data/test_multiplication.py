"""The multiplication problem follows Hochreiter & Schmidhuber 1997, Exp. 5."""

import numpy as np
import pytest

from zoo.data.synthetic import adding_sequence, multiplication_sequence


@pytest.mark.parametrize("T", [20, 100])
def test_sequences_follow_the_papers_rules(T):
    rng = np.random.default_rng(0)
    first_marked = 0
    for _ in range(400):
        pairs, target = multiplication_sequence(rng, T)
        values, markers = pairs[:, 0], pairs[:, 1]
        assert pairs.dtype == np.float32
        assert T <= len(pairs) <= T + T // 10
        assert np.all((values >= 0.0) & (values <= 1.0))
        marked = np.flatnonzero(markers == 1.0)
        assert len(marked) == 2
        assert marked.min() < 10 and marked.max() < T // 2
        assert set(np.unique(np.delete(markers, marked))) <= {0.0, -1.0}
        assert markers[-1] == -1.0
        if 0 in marked:
            first_marked += 1
            assert values[0] == 1.0
        else:
            assert markers[0] == -1.0
        assert target == pytest.approx(np.prod(values[marked]), abs=1e-6)
        assert 0.0 <= target <= 1.0
    assert first_marked > 0  # the rule for a marked first pair was exercised


def test_marks_are_drawn_exactly_as_in_the_adding_problem():
    # Same generator state: same length and marks; the values differ only
    # by their range (u in [0, 1] versus 2u - 1 in [-1, 1]).
    for seed in range(200):
        add, _ = adding_sequence(np.random.default_rng(seed), 30)
        mul, _ = multiplication_sequence(np.random.default_rng(seed), 30)
        np.testing.assert_array_equal(add[:, 1], mul[:, 1])
        expected = (add[:, 0] + 1.0) / 2.0
        if add[0, 1] == 1.0:  # a marked first pair: 0.0 when adding, 1.0 here
            expected[0] = 1.0
        np.testing.assert_allclose(mul[:, 0], expected, atol=1e-6)


def test_adding_problem_still_gives_the_same_sequences():
    # Values recorded from adding.py before the marking logic moved out.
    pairs, target = adding_sequence(np.random.default_rng(0), 20)
    assert len(pairs) == 22
    assert list(np.flatnonzero(pairs[:, 1] == 1.0)) == [4, 6]
    assert target == pytest.approx(0.8211260691308601, abs=1e-12)
    np.testing.assert_allclose(
        pairs[:3, 0], [-0.46042657, -0.91805297, -0.96694475], atol=1e-7
    )


def test_seeded_fixed_length_and_bad_arguments():
    a = multiplication_sequence(np.random.default_rng(3), 50)
    b = multiplication_sequence(np.random.default_rng(3), 50)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    pairs, _ = multiplication_sequence(np.random.default_rng(3), 100, length=100)
    assert len(pairs) == 100
    with pytest.raises(ValueError, match="T=3"):
        multiplication_sequence(np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match="length=10"):
        multiplication_sequence(np.random.default_rng(0), 100, length=10)

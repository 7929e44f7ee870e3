"""Experiment 2 (2a, 2b, 2c) follows Hochreiter & Schmidhuber 1997, Sec. 5.2."""

import numpy as np
import pytest

from zoo.data.synthetic import (
    distractor_sequence,
    no_local_regularities_sequence,
    noise_free_sequence,
)


def decode(inputs, targets):
    """The whole symbol sequence (as unit indices) of a 2a/2b example."""
    assert np.all(inputs.sum(-1) == 1) and np.all(targets.sum(-1) == 1)
    np.testing.assert_array_equal(inputs[1:], targets[:-1])
    return [*inputs.argmax(-1), targets[-1].argmax()]


@pytest.mark.parametrize("p", [2, 5, 100])
def test_noise_free_sequences_are_the_two_fixed_ones(p):
    rng = np.random.default_rng(0)
    x, y = p - 1, p  # a_p = x, a_{p+1} = y
    ends = []
    for _ in range(1000):
        inputs, targets = noise_free_sequence(rng, p)
        assert inputs.shape == targets.shape == (p, p + 1)
        assert inputs.dtype == targets.dtype == np.float32
        sequence = decode(inputs, targets)
        assert sequence[0] == sequence[-1] in (x, y)
        assert sequence[1:-1] == list(range(p - 1))  # a_1, ..., a_{p-1}
        ends.append(sequence[0])
    assert np.mean(np.array(ends) == y) == pytest.approx(0.5, abs=0.06)


def test_no_local_regularities_middle_is_random_over_a():
    p = 8
    rng = np.random.default_rng(1)
    ends, middles = [], []
    for _ in range(2000):
        sequence = decode(*no_local_regularities_sequence(rng, p))
        assert len(sequence) == p + 1
        assert sequence[0] == sequence[-1] in (p - 1, p)
        middles.extend(sequence[1:-1])
        ends.append(sequence[0])
    counts = np.bincount(middles, minlength=p + 1)
    assert counts[p - 1 :].sum() == 0  # x and y never inside
    assert np.allclose(counts[: p - 1] / len(middles), 1 / (p - 1), atol=0.01)
    assert np.mean(np.array(ends) == p) == pytest.approx(0.5, abs=0.04)


@pytest.mark.parametrize("p, q", [(10, 20), (50, 5), (1, 0)])
def test_distractor_sequences_follow_the_rules(p, q):
    e, b, x, y = p, p + 1, p + 2, p + 3
    rng = np.random.default_rng(2)
    extra, labels = [], []
    for _ in range(2000):
        inputs, target = distractor_sequence(rng, p, q)
        assert inputs.dtype == target.dtype == np.float32
        assert inputs.shape[1] == p + 4 and np.all(inputs.sum(-1) == 1)
        symbols = inputs.argmax(-1)
        length = len(symbols) + 1  # the final x|y is the target, not an input
        assert length >= q + 4
        assert symbols[0] == b and symbols[1] in (x, y)
        # e exactly once, as the last input; only distractors in between.
        assert symbols[-1] == e and np.sum(symbols == e) == 1
        assert np.all(symbols[2:-1] < p)
        # The target codes the final element, which repeats the 2nd one.
        assert target.shape == (2,) and target.sum() == 1
        assert target.argmax() == symbols[1] - x
        extra.append(length - q - 4)  # k: distractors drawn after the first q
        labels.append(target.argmax())
    extra = np.array(extra)
    # P(k) = 0.1 * 0.9**k: mean 9 (mean length q + 13), P(k = 0) = 0.1.
    assert extra.mean() == pytest.approx(9.0, abs=1.0)
    assert np.mean(extra == 0) == pytest.approx(0.1, abs=0.025)
    assert np.mean(labels) == pytest.approx(0.5, abs=0.04)


def test_distractors_are_uniform_over_the_p_symbols():
    p, q = 5, 200
    rng = np.random.default_rng(3)
    symbols = np.concatenate(
        [distractor_sequence(rng, p, q)[0].argmax(-1)[2:-1] for _ in range(50)]
    )
    assert np.allclose(np.bincount(symbols, minlength=p) / len(symbols), 0.2, atol=0.02)


def test_seeded_and_bad_arguments():
    for make in (
        lambda rng: noise_free_sequence(rng, 6),
        lambda rng: no_local_regularities_sequence(rng, 6),
        lambda rng: distractor_sequence(rng, 6, 30),
    ):
        a, b = make(np.random.default_rng(9)), make(np.random.default_rng(9))
        for left, right in zip(a, b):
            np.testing.assert_array_equal(left, right)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="p=1"):
        noise_free_sequence(rng, 1)
    with pytest.raises(ValueError, match="p=0"):
        no_local_regularities_sequence(rng, 0)
    with pytest.raises(ValueError, match="p=0"):
        distractor_sequence(rng, 0, 10)
    with pytest.raises(ValueError, match="q=-1"):
        distractor_sequence(rng, 10, -1)

"""Experiment 3 (3a, 3b, 3c) follows Hochreiter & Schmidhuber 1997, Sec. 5.3."""

import numpy as np
import pytest

from zoo.data.synthetic import two_sequence, two_sequence_with_clean_target


def draws(variant, T=100, N=3, count=2000, seed=0):
    rng = np.random.default_rng(seed)
    return [two_sequence_with_clean_target(rng, T, N, variant) for _ in range(count)]


@pytest.mark.parametrize("variant", ["a", "b", "c"])
@pytest.mark.parametrize("T, N", [(100, 1), (100, 3), (1000, 3)])
def test_lengths_shapes_and_class_balance(variant, T, N):
    examples = draws(variant, T, N, count=1000)
    lengths = [len(inputs) for inputs, _, _ in examples]
    assert min(lengths) >= T and max(lengths) <= T + T // 10
    assert len(set(lengths)) > T // 20  # the whole range is used
    for inputs, target, clean in examples:
        assert inputs.shape[1:] == (1,) and inputs.dtype == np.float32
        assert target.shape == clean.shape == (1,)
        assert target.dtype == clean.dtype == np.float32
    first = np.array([clean[0] for _, _, clean in examples])
    class_1 = {"a": 1.0, "b": 1.0, "c": 0.2}[variant]
    assert np.mean(np.isclose(first, class_1)) == pytest.approx(0.5, abs=0.05)


def test_3a_class_in_the_first_elements_and_noise_after():
    noise = []
    for inputs, target, clean in draws("a", N=3):
        x = inputs[:, 0]
        assert x[0] in (1.0, -1.0) and np.all(x[:3] == x[0])
        assert target[0] == clean[0] == (1.0 if x[0] == 1.0 else 0.0)
        noise.append(x[3:])
    noise = np.concatenate(noise)
    assert noise.mean() == pytest.approx(0.0, abs=0.01)
    assert noise.var() == pytest.approx(0.2, abs=0.005)  # variance, not std


def test_3b_adds_the_same_noise_to_the_class_elements():
    residuals, later = [], []
    for inputs, target, clean in draws("b", N=3):
        x = inputs[:, 0]
        sign = 1.0 if target[0] == 1.0 else -1.0
        assert target[0] == clean[0] and target[0] in (0.0, 1.0)
        residuals.append(x[:3] - sign)
        later.append(x[3:])
    residuals = np.concatenate(residuals)
    assert residuals.mean() == pytest.approx(0.0, abs=0.03)
    assert residuals.var() == pytest.approx(0.2, abs=0.02)
    assert np.concatenate(later).var() == pytest.approx(0.2, abs=0.005)


def test_3c_targets_are_noisy_around_0_2_and_0_8():
    offsets = []
    for inputs, target, clean in draws("c", N=1):
        x = inputs[:, 0]
        assert x[0] in (1.0, -1.0)
        assert clean[0] == pytest.approx(0.2 if x[0] == 1.0 else 0.8)
        offsets.append(target[0] - clean[0])
    offsets = np.array(offsets)
    assert offsets.mean() == pytest.approx(0.0, abs=0.02)
    assert offsets.var() == pytest.approx(0.1, abs=0.012)


def test_two_sequence_is_the_first_two_results_and_seeded():
    for variant in "abc":
        a = two_sequence(np.random.default_rng(5), 50, 1, variant)
        b = two_sequence_with_clean_target(np.random.default_rng(5), 50, 1, variant)
        assert len(a) == 2
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        c = two_sequence(np.random.default_rng(5), 50, 1, variant)
        np.testing.assert_array_equal(a[0], c[0])


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="variant='d'"):
        two_sequence(rng, 100, 3, "d")
    with pytest.raises(ValueError, match="T=1"):
        two_sequence(rng, 1, 1)
    with pytest.raises(ValueError, match="N=0"):
        two_sequence(rng, 100, 0)
    with pytest.raises(ValueError, match="N=100"):
        two_sequence(rng, 100, 100)

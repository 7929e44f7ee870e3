"""Temporal order (6a, 6b) follows Hochreiter & Schmidhuber 1997, Sec. 5.6."""

import numpy as np
import pytest

from zoo.data.synthetic import temporal_order_sequence
from zoo.data.synthetic.temporal_order import CLASSES, SYMBOLS

# The paper's class tables, and its 1-based ranges of the relevant positions.
PAPER_CLASSES = {
    "a": {"XX": "Q", "XY": "R", "YX": "S", "YY": "U"},
    "b": {
        "XXX": "Q", "XXY": "R", "XYX": "S", "XYY": "U",
        "YXX": "V", "YXY": "A", "YYX": "B", "YYY": "C",
    },
}
RANGES = {"a": [(10, 20), (50, 60)], "b": [(10, 20), (33, 43), (66, 76)]}


@pytest.mark.parametrize("variant", ["a", "b"])
def test_sequences_follow_the_papers_rules(variant):
    rng = np.random.default_rng(0)
    lengths, names, positions = [], [], []
    for _ in range(2000):
        inputs, target = temporal_order_sequence(rng, variant)
        assert inputs.dtype == target.dtype == np.float32
        assert inputs.shape[1] == 8 and np.all(inputs.sum(-1) == 1)
        text = "".join(SYMBOLS[i] for i in inputs.argmax(-1))
        lengths.append(len(text))
        assert text[0] == "E" and text[-1] == "B"
        assert set(text[1:-1]) <= set("abcdXY")
        relevant = [t + 1 for t, s in enumerate(text) if s in "XY"]  # 1-based
        assert len(relevant) == len(RANGES[variant])
        for t, (low, high) in zip(relevant, RANGES[variant]):
            assert low <= t <= high
        positions.append(relevant)
        order = "".join(text[t - 1] for t in relevant)
        assert target.shape == (len(PAPER_CLASSES[variant]),)
        assert target.sum() == 1
        assert CLASSES[variant][target.argmax()] == PAPER_CLASSES[variant][order]
        names.append(order)
    assert min(lengths) == 100 and max(lengths) == 110
    positions = np.array(positions)
    for column, (low, high) in enumerate(RANGES[variant]):
        assert set(positions[:, column]) == set(range(low, high + 1))
    shares = [names.count(order) / len(names) for order in PAPER_CLASSES[variant]]
    assert np.allclose(shares, 1 / len(shares), atol=0.035)


def test_filler_symbols_are_uniform_over_a_to_d():
    counts = np.zeros(8)
    rng = np.random.default_rng(1)
    for _ in range(100):
        counts += temporal_order_sequence(rng, "a")[0].sum(0)
    shares = counts[:4] / counts[:4].sum()
    assert np.allclose(shares, 0.25, atol=0.02)
    assert counts[4] + counts[5] == 200  # X and Y: the two relevant positions


def test_seeded_and_bad_variant():
    a = temporal_order_sequence(np.random.default_rng(4), "b")
    b = temporal_order_sequence(np.random.default_rng(4), "b")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="variant='c'"):
        temporal_order_sequence(np.random.default_rng(0), "c")

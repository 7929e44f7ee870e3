"""The embedded Reber grammar follows Hochreiter & Schmidhuber 1997, Exp. 1."""

import re

import numpy as np
import pytest

from zoo.data.synthetic import (
    embedded_reber_string,
    is_embedded_reber,
    possible_next,
    reber_possible_targets,
    reber_sequence,
    reber_train_test,
)
from zoo.data.synthetic.reber import SYMBOLS

# The Reber automaton written out as a regular expression, independently of
# the module: after the first T the walk is S* X, after the first P it is
# T* V; state 3 loops through X T* V P and leaves by S or X T* V V.
_STATE3 = "(?:XT*VP)*(?:S|XT*VV)"
_INNER = f"B(?:TS*X{_STATE3}|PT*V(?:V|P{_STATE3}))E"
EMBEDDED = re.compile(f"^B([TP]){_INNER}\\1E$")


def test_generated_strings_are_accepted_by_the_grammar():
    rng = np.random.default_rng(0)
    strings = [embedded_reber_string(rng) for _ in range(2000)]
    for string in strings:
        assert EMBEDDED.match(string), string
        assert is_embedded_reber(string)
    lengths = [len(s) for s in strings]
    assert min(lengths) == 9  # "short time lags (of as few as 9 steps)"
    assert {s for s in strings if len(s) == 9} == {
        f"B{w}B{inner}E{w}E" for w in "TP" for inner in ("TXS", "PVV")
    }
    # Each branch is taken with probability 0.5: the wrapping letter, the
    # first letter of the inner string, and S vs X in the inner S loop.
    assert np.mean([s[1] == "T" for s in strings]) == pytest.approx(0.5, abs=0.05)
    assert np.mean([s[3] == "T" for s in strings]) == pytest.approx(0.5, abs=0.05)
    after_t = [s[4] for s in strings if s[3] == "T"]
    assert np.mean([c == "S" for c in after_t]) == pytest.approx(0.5, abs=0.06)


def test_the_automaton_rejects_strings_outside_the_grammar():
    assert is_embedded_reber("BTBTXSETE")
    for bad in ("BTBTXSEPE", "BTXSE", "BTBTXSETEE", "BTBTXSET", "BTBTQSETE", ""):
        assert not is_embedded_reber(bad)
        with pytest.raises(ValueError, match=f"string='{bad}'"):
            possible_next(bad)
        with pytest.raises(ValueError, match=f"string='{bad}'"):
            reber_sequence(bad)


def test_possible_next_symbols_of_hand_checked_strings():
    assert possible_next("BTBTXSETE") == [
        {"T", "P"}, {"B"}, {"T", "P"}, {"S", "X"}, {"X", "S"}, {"E"}, {"T"},
        {"E"},
    ]
    assert possible_next("BPBPTVPSEPE") == [
        {"T", "P"}, {"B"}, {"T", "P"}, {"T", "V"}, {"T", "V"}, {"P", "V"},
        {"X", "S"}, {"E"}, {"P"}, {"E"},
    ]
    targets = reber_possible_targets("BTBTXSETE")
    assert targets.shape == (8, 7) and targets.dtype == np.float32
    np.testing.assert_array_equal(targets[3], [0, 0, 0, 1, 1, 0, 0])  # S, X
    np.testing.assert_array_equal(targets[6], [0, 1, 0, 0, 0, 0, 0])  # T


def test_sequences_are_next_symbol_one_hot_codes():
    rng = np.random.default_rng(1)
    for _ in range(200):
        string = embedded_reber_string(rng)
        inputs, targets = reber_sequence(string)
        assert inputs.shape == targets.shape == (len(string) - 1, 7)
        assert inputs.dtype == targets.dtype == np.float32
        assert "".join(SYMBOLS[i] for i in inputs.argmax(-1)) == string[:-1]
        assert "".join(SYMBOLS[i] for i in targets.argmax(-1)) == string[1:]
        assert np.all(inputs.sum(-1) == 1) and np.all(targets.sum(-1) == 1)
        possible = reber_possible_targets(string)
        assert np.all(possible >= targets)  # the true next symbol is allowed
        # The closing letter is forced: it repeats the second symbol.
        assert possible[-2].sum() == 1 and possible[-2, SYMBOLS.index(string[1])]


def test_train_and_test_sets_are_distinct_and_disjoint():
    train, test = reber_train_test(np.random.default_rng(2))
    assert len(train) == len(set(train)) == 256
    assert len(test) == len(set(test)) == 256
    assert not set(train) & set(test)
    assert all(EMBEDDED.match(s) for s in train + test)
    again = reber_train_test(np.random.default_rng(2))
    assert again == (train, test)
    assert reber_train_test(np.random.default_rng(3)) != (train, test)
    small = reber_train_test(np.random.default_rng(2), train_size=5, test_size=0)
    assert len(small[0]) == 5 and small[1] == []


def test_generation_is_seeded_and_sizes_are_checked():
    a = [embedded_reber_string(np.random.default_rng(4)) for _ in range(3)]
    assert len(set(a)) == 1
    with pytest.raises(ValueError, match="train_size=-1"):
        reber_train_test(np.random.default_rng(0), train_size=-1)
    with pytest.raises(ValueError, match="test_size=-3"):
        reber_train_test(np.random.default_rng(0), test_size=-3)

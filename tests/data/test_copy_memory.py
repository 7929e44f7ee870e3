"""The copy-memory task follows Arjovsky, Shah & Bengio 2016, Section 4.1."""

import math

import numpy as np
import pytest

from zoo.data.synthetic import copy_memory_batch, memoryless_cross_entropy, recall_accuracy
from zoo.data.synthetic.copy_memory import BLANK, DELIMITER, OUTPUT_CLASSES


@pytest.mark.parametrize("T", [1, 5, 100])
def test_sequences_follow_the_papers_layout(T):
    inputs, targets = copy_memory_batch(np.random.default_rng(0), 64, T)
    assert inputs.shape == (64, T + 20, 10) and inputs.dtype == np.float32
    assert targets.shape == (64, T + 20) and targets.dtype == np.int32
    assert np.all(inputs.sum(axis=-1) == 1.0)  # one-hot: no step is padding
    symbols = inputs.argmax(axis=-1)
    assert np.all((symbols[:, :10] >= 1) & (symbols[:, :10] <= 8))
    # T - 1 blanks, the delimiter, ten blanks.
    assert np.all(symbols[:, 10:T + 9] == BLANK)
    assert np.all(symbols[:, T + 9] == DELIMITER)
    assert np.all(symbols[:, T + 10:] == BLANK)
    # Blanks until the delimiter's ten steps later, then the symbols in order.
    assert np.all(targets[:, :T + 10] == BLANK)
    np.testing.assert_array_equal(targets[:, T + 10:], symbols[:, :10])
    assert targets.max() < OUTPUT_CLASSES


def test_symbols_are_uniform_over_the_eight():
    _, targets = copy_memory_batch(np.random.default_rng(1), 4000, 3)
    counts = np.bincount(targets[:, -10:].ravel(), minlength=9)
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] / counts[1:].sum() - 1 / 8) < 0.01)


def test_the_memoryless_baseline_is_the_cross_entropy_of_blanks_then_guessing():
    T = 30
    _, targets = copy_memory_batch(np.random.default_rng(2), 8, T)
    # Certain blanks until the recall, then 1/8 on each symbol.
    probabilities = np.zeros(targets.shape + (OUTPUT_CLASSES,))
    probabilities[:, :-10, BLANK] = 1.0
    probabilities[:, -10:, 1:] = 1 / 8
    picked = np.take_along_axis(probabilities, targets[..., None], axis=-1)
    assert memoryless_cross_entropy(T) == pytest.approx(float(np.mean(-np.log(picked))))
    assert memoryless_cross_entropy(100) == pytest.approx(10 * math.log(8) / 120)


def test_recall_accuracy_counts_the_recalled_steps_only():
    _, targets = copy_memory_batch(np.random.default_rng(3), 5, 4)
    perfect = np.eye(OUTPUT_CLASSES)[targets]
    assert recall_accuracy(perfect, targets) == 1.0
    wrong_blanks = perfect.copy()
    wrong_blanks[:, :-10] = np.eye(OUTPUT_CLASSES)[1]  # errors outside the recall
    assert recall_accuracy(wrong_blanks, targets) == 1.0
    half = perfect.copy()
    half[:, -5:] = np.eye(OUTPUT_CLASSES)[BLANK]  # the last five symbols missed
    assert recall_accuracy(half, targets) == 0.5


@pytest.mark.parametrize("argument, value", [("T", 0), ("batch_size", 0), ("copy_length", 2.5)])
def test_bad_arguments_are_named_with_their_value(argument, value):
    kwargs = {"batch_size": 2, "T": 5, argument: value}
    with pytest.raises(ValueError, match=f"`{argument}`.*Received: {argument}={value}"):
        copy_memory_batch(np.random.default_rng(0), **kwargs)


def test_recall_accuracy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"Received: probabilities.shape=\(2, 3\)"):
        recall_accuracy(np.zeros((2, 3)), np.zeros((2, 3), "int32"))

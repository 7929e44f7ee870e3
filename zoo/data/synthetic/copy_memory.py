"""The copy-memory task (Arjovsky, Shah & Bengio 2016, Section 4.1).

A descendant of the 1997 paper's long-lag tasks, used by most recurrent-cell
papers since the unitary RNN: remember ten symbols over T blank steps, then
write them out.

* The input alphabet has ten symbols, one-hot over ten units: a_0 the blank
  (unit 0), a_1 .. a_8 the symbols to remember (units 1 .. 8), a_9 the
  delimiter (unit 9).
* An input sequence has T + 20 steps: ten symbols drawn uniformly (with
  repetition) from a_1 .. a_8, then T - 1 blanks, the delimiter, and ten
  more blanks.
* The target at every step is a class in 0 .. 8 (the delimiter is never
  one): blank for the first T + 10 steps, then the ten symbols in their
  order. Only those ten steps need memory; the delimiter says when to
  recall, so the lag from a symbol to its recall is T + 10 steps.
* A net that outputs blanks and then guesses uniformly among the eight
  symbols has a cross-entropy of 10 log 8 / (T + 20) per step
  (`memoryless_cross_entropy`): the baseline a net must beat to have
  remembered anything.
"""

import math

import numpy as np

SYMBOLS = 8  # a_1 .. a_8, the symbols to remember
BLANK = 0
DELIMITER = SYMBOLS + 1  # a_9
INPUT_CLASSES = SYMBOLS + 2  # blank, the symbols, the delimiter
OUTPUT_CLASSES = SYMBOLS + 1  # blank and the symbols
COPY_LENGTH = 10


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer of at least {minimum}. "
            f"Received: {name}={value!r}"
        )


def copy_memory_batch(rng, batch_size, T, copy_length=COPY_LENGTH):
    """A batch of copy-memory sequences, all `T + 2 * copy_length` steps long.

    Args:
        rng: A `numpy.random.Generator`.
        batch_size: Sequences in the batch.
        T: Blank steps between the symbols and their recall (the delimiter
            is the last of them); at least 1.
        copy_length: Symbols to remember (10 in the paper).

    Returns:
        `(inputs, targets)`: float32 one-hot `(batch, T + 2 * copy_length,
        INPUT_CLASSES)` and int32 classes `(batch, T + 2 * copy_length)`.
    """
    _check_count("batch_size", batch_size, 1)
    _check_count("T", T, 1)
    _check_count("copy_length", copy_length, 1)
    length = T + 2 * copy_length
    symbols = rng.integers(1, SYMBOLS + 1, size=(batch_size, copy_length))
    inputs = np.full((batch_size, length), BLANK)
    inputs[:, :copy_length] = symbols
    inputs[:, copy_length + T - 1] = DELIMITER
    targets = np.full((batch_size, length), BLANK, dtype="int32")
    targets[:, -copy_length:] = symbols
    return np.eye(INPUT_CLASSES, dtype="float32")[inputs], targets


def memoryless_cross_entropy(T, copy_length=COPY_LENGTH):
    """The per-step cross-entropy of the best net with no memory, in nats."""
    _check_count("T", T, 1)
    _check_count("copy_length", copy_length, 1)
    return copy_length * math.log(SYMBOLS) / (T + 2 * copy_length)


def recall_accuracy(probabilities, targets, copy_length=COPY_LENGTH):
    """The fraction of recalled symbols (the last `copy_length` steps) right.

    Args:
        probabilities: `(batch, steps, OUTPUT_CLASSES)` model outputs.
        targets: `(batch, steps)` classes from `copy_memory_batch`.
    """
    probabilities, targets = np.asarray(probabilities), np.asarray(targets)
    if probabilities.shape[:2] != targets.shape or probabilities.ndim != 3:
        raise ValueError(
            f"`probabilities` must be (batch, steps, classes) over the targets' "
            f"(batch, steps). Received: probabilities.shape={probabilities.shape}, "
            f"targets.shape={targets.shape}"
        )
    predicted = probabilities[:, -copy_length:].argmax(axis=-1)
    return float(np.mean(predicted == targets[:, -copy_length:]))

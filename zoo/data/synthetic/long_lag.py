"""Long minimal time lags, Hochreiter & Schmidhuber 1997 (Section 5.2, Exp. 2).

Tasks 2a and 2b (next-symbol prediction at every step).

* The alphabet has p + 1 symbols a_1, ..., a_{p-1}, a_p = x, a_{p+1} = y,
  coded one-hot over p + 1 units in that order: a_k is unit k - 1, x is
  unit p - 1, y is unit p. The net has p + 1 inputs and p + 1 outputs.
* 2a: only two sequences exist, (y, a_1, ..., a_{p-1}, y) and
  (x, a_1, ..., a_{p-1}, x), each drawn with probability 0.5. Predicting
  the last symbol needs the first one, stored over p steps.
* 2b: the same two classes, but the middle block a_1, ..., a_{p-1} is
  replaced by p - 1 symbols drawn at random (uniformly, with repetition)
  from {a_1, ..., a_{p-1}}, so nothing local predicts the end.
* A sequence of p + 1 symbols gives inputs = its first p symbols and
  targets = its last p symbols (the next symbol at every step), both
  one-hot `(p, p + 1)`. In 2b only the final target is predictable; the
  paper judges 2b by the output error at the sequence end.

Task 2c (very long lags with distractors; target only at the end).

* Inputs are p + 4 one-hot units in this order: the distractors
  a_1, ..., a_p (units 0 .. p - 1), the trigger e (unit p), b (p + 1),
  x (p + 2), y (p + 3).
* A sequence is built as: b; x or y (probability 0.5 each); q distractors
  drawn uniformly from the p distractor symbols; then, step after step, a
  random distractor with probability 9/10 or e with probability 1/10,
  stopping at the first e; finally the same x or y as the second element.
  It has q + k + 4 elements, k being the number of distractors drawn after
  the first q (mean length q + 13; the paper's "q + 14" is an off-by-one).
* The paper's index range "1 <= i <= q" for the distractors is read as the
  p distractor symbols that exist (p < q in part of Table 3).
* The inputs are every element except the last; the target, given only at
  the end (right after e is read), codes the final element on the net's
  2 output units: [1, 0] for x, [0, 1] for y. The class sits at position 2
  and must be stored for at least q + 1 steps.
"""

import numpy as np


def _one_hot(indices, width):
    codes = np.zeros((len(indices), width), dtype="float32")
    codes[np.arange(len(indices)), indices] = 1.0
    return codes


def _check_p(p, minimum=2):
    if p < minimum:
        raise ValueError(f"Argument `p` must be at least {minimum}. Received: p={p}")


def _next_symbol_codes(rng, p, middle):
    """x, middle, x or y, middle, y (p = 0.5 each): one-hot inputs, targets."""
    end = p - 1 + int(rng.integers(0, 2))  # unit p - 1 is x, unit p is y
    codes = _one_hot([end, *middle, end], p + 1)
    return codes[:-1], codes[1:]


def noise_free_sequence(rng, p):
    """Task 2a: (x, a_1, ..., a_{p-1}, x) or the same with y, p = 0.5 each.

    Args:
        rng: A `numpy.random.Generator`.
        p: The time lag (100 in Table 2); at least 2.

    Returns:
        `(inputs, targets)`: float32 one-hot `(p, p + 1)` each.
    """
    _check_p(p)
    return _next_symbol_codes(rng, p, range(p - 1))


def no_local_regularities_sequence(rng, p):
    """Task 2b: like 2a with p - 1 random symbols from a_1..a_{p-1} inside.

    Args:
        rng: A `numpy.random.Generator`.
        p: The time lag (100 in the paper); at least 2.

    Returns:
        `(inputs, targets)`: float32 one-hot `(p, p + 1)` each.
    """
    _check_p(p)
    return _next_symbol_codes(rng, p, rng.integers(0, p - 1, size=p - 1))


def distractor_sequence(rng, p, q):
    """Task 2c: b, x|y, q distractors, distractors until e, then x|y again.

    Args:
        rng: A `numpy.random.Generator`.
        p: The number of distractor symbols; at least 1.
        q: The number of distractors always present (time lag - 1); at
            least 0.

    Returns:
        `(inputs, target)`: float32 one-hot `(length - 1, p + 4)` (every
        element but the last) and float32 `(2,)`, [1, 0] for a final x and
        [0, 1] for a final y.
    """
    _check_p(p, minimum=1)
    if q < 0:
        raise ValueError(f"Argument `q` must be at least 0. Received: q={q}")
    e, b, x = p, p + 1, p + 2
    label = int(rng.integers(0, 2))  # 0: x, 1: y
    sequence = [b, x + label, *rng.integers(0, p, size=q)]
    while rng.random() >= 0.1:  # a distractor with probability 9/10
        sequence.append(int(rng.integers(0, p)))
    sequence.append(e)
    target = np.zeros(2, dtype="float32")
    target[label] = 1.0
    return _one_hot(sequence, p + 4), target

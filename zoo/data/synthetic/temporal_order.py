"""Temporal order, Hochreiter & Schmidhuber 1997 (Section 5.6, Exp. 6).

Symbols: the 8 symbols of `SYMBOLS` = ("a", "b", "c", "d", "X", "Y", "E",
"B"), coded one-hot in that order (a is unit 0, B is unit 7).

Task 6a:

* the length is a random integer in [100, 110];
* the sequence starts with E and ends with B (the trigger); every other
  element is drawn at random from {a, b, c, d}, except the elements at
  two relevant positions t_1 in [10, 20] and t_2 in [50, 60], which are
  X or Y;
* 4 classes by the order of X and Y: XX -> Q, XY -> R, YX -> S, YY -> U.

Task 6b: as 6a with three relevant positions t_1 in [10, 20],
t_2 in [33, 43] and t_3 in [66, 76], and 8 classes: XXX -> Q, XXY -> R,
XYX -> S, XYY -> U, YXX -> V, YXY -> A, YYX -> B, YYY -> C.

Every random choice is uniform: the length, each t_i in its range, X or Y
at each relevant position, a/b/c/d elsewhere.

Positions are 1-based as in the paper: position 1 is the opening E and
position `length` is the closing B, so the paper's position t is array
index t - 1. The class index reads the relevant symbols as a binary number,
X = 0 and Y = 1, the first relevant position being the most significant
bit, which reproduces the paper's class order (`CLASSES`).

The whole sequence, B included, is the input `(length, 8)`; the target,
given only at the end, is one-hot over the 4 (6a) or 8 (6b) classes. An
output is correct when the absolute error of every output unit is below 0.3.
"""

import numpy as np

SYMBOLS = ("a", "b", "c", "d", "X", "Y", "E", "B")
# variant -> the 1-based ranges (inclusive) of the relevant positions
RELEVANT_POSITIONS = {
    "a": ((10, 20), (50, 60)),
    "b": ((10, 20), (33, 43), (66, 76)),
}
CLASSES = {
    "a": ("Q", "R", "S", "U"),
    "b": ("Q", "R", "S", "U", "V", "A", "B", "C"),
}
LENGTHS = (100, 110)  # inclusive
TOLERANCE = 0.3  # correct if every output's absolute error is below 0.3

_X, _Y, _E, _B = (SYMBOLS.index(s) for s in "XYEB")


def temporal_order_sequence(rng, variant="a"):
    """One sequence of task 6a or 6b.

    Args:
        rng: A `numpy.random.Generator`.
        variant: "a" (two relevant positions, 4 classes) or "b" (three, 8).

    Returns:
        `(inputs, target)`: float32 one-hot `(length, 8)` with length in
        [100, 110], and float32 one-hot `(4,)` (6a) or `(8,)` (6b).
    """
    if variant not in RELEVANT_POSITIONS:
        raise ValueError(
            f"Argument `variant` must be one of {sorted(RELEVANT_POSITIONS)}. "
            f"Received: variant={variant!r}"
        )
    length = int(rng.integers(LENGTHS[0], LENGTHS[1] + 1))
    symbols = rng.integers(0, 4, size=length)  # a, b, c or d
    symbols[0], symbols[-1] = _E, _B
    label = 0
    for low, high in RELEVANT_POSITIONS[variant]:
        position = int(rng.integers(low, high + 1))  # 1-based
        bit = int(rng.integers(0, 2))  # 0: X, 1: Y
        symbols[position - 1] = _X + bit
        label = 2 * label + bit
    inputs = np.zeros((length, len(SYMBOLS)), dtype="float32")
    inputs[np.arange(length), symbols] = 1.0
    target = np.zeros(len(CLASSES[variant]), dtype="float32")
    target[label] = 1.0
    return inputs, target

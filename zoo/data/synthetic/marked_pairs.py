"""Sequences of (value, marker) pairs shared by Exp. 4 and Exp. 5 (1997).

The adding problem (`adding.py`) and the multiplication problem
(`multiplication.py`) mark two pairs by the same rules and differ only in
the value range, in the value forced onto a marked first pair and in the
target. The rules, as Sections 5.4 and 5.5 of the paper give them:

* the length is a random integer in [T, T + T/10];
* the values are uniform in [low, high] ([-1, 1] adding, [0, 1]
  multiplication);
* X_1 is one of the first ten pairs, drawn at random and marked 1.0; X_2 is
  one of the first T/2 - 1 pairs not yet marked, drawn at random and marked
  1.0, so that the lag from X_2 to the end is at least T/2;
* every other marker is 0.0, except the markers of the first and the last
  pair, which are -1.0 (a mark on the first pair overrides its -1.0);
* when the first pair is marked its value is replaced (by 0.0 for adding,
  1.0 for multiplication). The paper states this for X_1; it is applied to
  X_2 too, which can also land on the first pair.

The random draws happen in a fixed order (length, values, X_1, X_2), so a
given generator state always gives the same sequence.
"""

import numpy as np


def marked_pairs(rng, T, length, low, high, first_value):
    """Values and markers of one sequence, and the two marked positions.

    Args:
        rng: A `numpy.random.Generator`.
        T: The paper's T; at least 4.
        length: Force this length instead of drawing one from
            [T, T + T/10]; `None` draws it. At least T/2.
        low, high: The range of the uniform values.
        first_value: The value a marked first pair gets.

    Returns:
        `(values, markers, first, second)`: float64 `(length,)` arrays and
        the 0-based positions of X_1 and X_2.
    """
    if T < 4:
        raise ValueError(f"Argument `T` must be at least 4. Received: T={T}")
    if length is None:
        length = int(rng.integers(T, T + T // 10 + 1))
    if length < T // 2:
        raise ValueError(
            f"Argument `length` must be at least T/2 = {T // 2} so that both "
            f"marks fit. Received: length={length}"
        )
    values = rng.uniform(low, high, size=length)
    markers = np.zeros(length)
    markers[0] = markers[-1] = -1.0
    first = int(rng.integers(0, min(10, length)))
    unmarked = [i for i in range(length) if i != first][: T // 2 - 1]
    second = int(rng.choice(unmarked))
    for position in (first, second):
        markers[position] = 1.0
        if position == 0:
            values[0] = first_value
    return values, markers, first, second

"""The adding problem of Hochreiter & Schmidhuber 1997 (Section 5.4, Exp. 4).

Each sequence is a list of pairs (value, marker):

* its length is a random integer in [T, T + T/10];
* values are uniform in [-1, 1];
* exactly two pairs are marked with marker 1.0: first one of the first ten
  pairs (X_1), then one of the first T/2 - 1 pairs that are still unmarked
  (X_2), so the minimal time lag is T/2;
* all other markers are 0, except those of the first and the final pair,
  which are -1;
* if the first pair is marked, its value is set to zero (the paper says so
  for X_1; the same rule is applied when X_2 lands there);
* the target, given only at the sequence end, is 0.5 + (X_1 + X_2) / 4, in
  [0, 1]; a prediction is correct when its absolute error is below 0.04.

Later papers use other "adding problems" (values in [0, 1], target the sum
or the mean, fixed lengths); their numbers are not comparable with 1997's.
"""

import numpy as np

TOLERANCE = 0.04  # |error| < 0.04 counts as correct (Table 11: ABS(0.04))


def adding_sequence(rng, T, length=None):
    """One sequence of the adding problem.

    Args:
        rng: A `numpy.random.Generator`.
        T: The paper's T (100, 500 or 1000 in Table 7); at least 4.
        length: Force this length instead of drawing one from [T, T + T/10].

    Returns:
        `(pairs, target)`: float32 `(length, 2)` (value, marker) and a float.
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
    values = rng.uniform(-1.0, 1.0, size=length)
    markers = np.zeros(length)
    markers[0] = markers[-1] = -1.0
    first = int(rng.integers(0, min(10, length)))
    unmarked = [i for i in range(length) if i != first][: T // 2 - 1]
    second = int(rng.choice(unmarked))
    for position in (first, second):
        markers[position] = 1.0
        if position == 0:
            values[0] = 0.0
    target = 0.5 + (values[first] + values[second]) / 4.0
    pairs = np.stack([values, markers], axis=-1).astype("float32")
    return pairs, float(target)


def adding_batch(rng, batch_size, T, length=None):
    """A batch of sequences, zero-padded at the end.

    A padded step is (0, 0), which no real step is (a value of exactly 0
    comes with marker 1), so `keras.layers.Masking(0.0)` masks exactly the
    padding.

    Returns:
        `(inputs, targets, lengths)`: float32 `(batch, max_length, 2)`,
        float32 `(batch, 1)`, int `(batch,)`.
    """
    sequences = [adding_sequence(rng, T, length) for _ in range(batch_size)]
    lengths = np.array([len(pairs) for pairs, _ in sequences])
    inputs = np.zeros((batch_size, lengths.max(), 2), dtype="float32")
    for row, (pairs, _) in enumerate(sequences):
        inputs[row, : len(pairs)] = pairs
    targets = np.array([[t] for _, t in sequences], dtype="float32")
    return inputs, targets, lengths

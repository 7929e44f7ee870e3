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

The marking rules are shared with the multiplication problem (Exp. 5) and
live in `marked_pairs.py`.

Later papers use other "adding problems" (values in [0, 1], target the sum
or the mean, fixed lengths); their numbers are not comparable with 1997's.
"""

import numpy as np

from zoo.data.synthetic.batching import pad_batch
from zoo.data.synthetic.marked_pairs import marked_pairs

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
    values, markers, first, second = marked_pairs(
        rng, T, length, low=-1.0, high=1.0, first_value=0.0
    )
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
    return pad_batch([(pairs, [target]) for pairs, target in sequences])

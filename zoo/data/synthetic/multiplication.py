"""The multiplication problem of Hochreiter & Schmidhuber 1997 (Section 5.5, Exp. 5).

The inputs are built like those of the adding problem (Exp. 4,
`adding.py`), with the same (value, marker) pairs and the same marking
rules (`marked_pairs.py`), with these differences:

* values are uniform in [0, 1] instead of [-1, 1];
* a marked first pair gets the value 1.0 instead of 0.0 (the paper says
  so for X_1; as in `adding.py`, the rule also covers X_2 landing there);
* the target, given only at the sequence end, is the product X_1 * X_2,
  in [0, 1].

A prediction counts as wrong when its absolute error exceeds 0.04. The
paper tests a net once fewer than n_seq (140 or 13) of the 2000 most recent
training sequences were wrong.
"""

import numpy as np

from zoo.data.synthetic.marked_pairs import marked_pairs

TOLERANCE = 0.04  # absolute errors above 0.04 count as wrong (Section 5.5)


def multiplication_sequence(rng, T, length=None):
    """One sequence of the multiplication problem.

    Args:
        rng: A `numpy.random.Generator`.
        T: The paper's T (100 in Table 8); at least 4.
        length: Force this length instead of drawing one from [T, T + T/10].

    Returns:
        `(pairs, target)`: float32 `(length, 2)` (value, marker) and a float.
    """
    values, markers, first, second = marked_pairs(
        rng, T, length, low=0.0, high=1.0, first_value=1.0
    )
    target = values[first] * values[second]
    pairs = np.stack([values, markers], axis=-1).astype("float32")
    return pairs, float(target)

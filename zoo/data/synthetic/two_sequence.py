"""Noise and signal on one channel, Hochreiter & Schmidhuber 1997 (Section 5.3, Exp. 3).

Task 3a is Bengio et al.'s (1994) "2-sequence problem":

* one input line; two classes, each drawn with probability 0.5;
* the length is a random integer in [T, T + T/10] (the shorter sequences
  of Bengio et al. are not used);
* the first N elements (N = 1 or 3 in the paper) are +1.0 for class 1 and
  -1.0 for class 2; every later element is Gaussian noise with mean 0 and
  variance 0.2 (standard deviation sqrt(0.2), about 0.447);
* the target, given only at the end, is 1.0 for class 1 and 0.0 for
  class 2; an output is correct when its absolute error is below 0.2.

Task 3b: as 3a, and the first N elements get the same Gaussian noise
(mean 0, variance 0.2) added to their +1.0 / -1.0.

Task 3c: as 3a, but the targets are 0.2 for class 1 and 0.8 for class 2,
and Gaussian noise with mean 0 and variance 0.1 (standard deviation
sqrt(0.1), about 0.316) is added to the target. A sequence is misclassified
when the output is more than 0.1 away from the noise-free target.

`two_sequence_with_clean_target` returns the noise-free target as well;
`two_sequence` returns the first two of its results and consumes the
generator in exactly the same way. For 3a and 3b the two targets are equal.
"""

import numpy as np

INPUT_NOISE_VARIANCE = 0.2
TARGET_NOISE_VARIANCE = 0.1  # 3c only
# variant -> (target of class 1, target of class 2), before any noise
TARGETS = {"a": (1.0, 0.0), "b": (1.0, 0.0), "c": (0.2, 0.8)}
TOLERANCE = 0.2  # 3a, 3b: correct if |error| < 0.2
TOLERANCE_3C = 0.1  # 3c: misclassified if |output - clean target| > 0.1


def two_sequence_with_clean_target(rng, T, N, variant="a"):
    """One sequence of task 3a, 3b or 3c, with its noise-free target.

    Args:
        rng: A `numpy.random.Generator`.
        T: The minimal length (100 or 1000 in the paper); at least 2.
        N: The number of class-carrying first elements (1 or 3); at least
            1 and less than T.
        variant: "a", "b" or "c".

    Returns:
        `(inputs, target, clean_target)`: float32 `(length, 1)`, float32
        `(1,)` (noisy in 3c) and float32 `(1,)` (noise-free).
    """
    if variant not in TARGETS:
        raise ValueError(
            f"Argument `variant` must be one of {sorted(TARGETS)}. "
            f"Received: variant={variant!r}"
        )
    if T < 2:
        raise ValueError(f"Argument `T` must be at least 2. Received: T={T}")
    if not 1 <= N < T:
        raise ValueError(
            f"Argument `N` must be at least 1 and less than T={T}. Received: N={N}"
        )
    label = int(rng.integers(0, 2))  # 0: class 1, 1: class 2
    length = int(rng.integers(T, T + T // 10 + 1))
    noise = rng.normal(0.0, np.sqrt(INPUT_NOISE_VARIANCE), size=length)
    inputs = noise.copy()
    inputs[:N] = 1.0 if label == 0 else -1.0
    if variant == "b":
        inputs[:N] += noise[:N]
    clean = TARGETS[variant][label]
    target = clean
    if variant == "c":
        target = clean + rng.normal(0.0, np.sqrt(TARGET_NOISE_VARIANCE))
    return (
        inputs[:, None].astype("float32"),
        np.array([target], dtype="float32"),
        np.array([clean], dtype="float32"),
    )


def two_sequence(rng, T, N, variant="a"):
    """One sequence of task 3a, 3b or 3c.

    Args: as `two_sequence_with_clean_target`.

    Returns:
        `(inputs, target)`: float32 `(length, 1)` and float32 `(1,)`; in 3c
        the target carries its Gaussian noise.
    """
    inputs, target, _ = two_sequence_with_clean_target(rng, T, N, variant)
    return inputs, target

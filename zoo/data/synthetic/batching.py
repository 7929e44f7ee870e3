"""Zero-padding single generated sequences into a batch.

Every generator in this package returns one sequence as `(inputs, target)`.
`pad_batch` turns a list of them into arrays a Keras model can take:

* inputs `(length, n_in)` are padded with zero steps at the end to
  `(batch, max_length, n_in)`;
* a target with two or more axes is a per-step target (its first axis is
  time, as long as the inputs): padded the same way to
  `(batch, max_length, n_out)`;
* a target with fewer axes (a number, or a vector given at the sequence
  end) is stacked as is: `(batch,)` or `(batch, n_out)`;
* the true lengths come back too.

In the one-hot tasks (Exp. 1, 2, 6) no real step is all zeros, and in the
pair tasks (Exp. 4, 5) a real step is (0, 0) only with probability zero,
so `keras.layers.Masking(0.0)` masks exactly the padding there.
"""

import numpy as np


def pad_batch(sequences):
    """Stacks `(inputs, target)` sequences into a zero-padded batch.

    Args:
        sequences: A non-empty list of `(inputs, target)`; inputs are
            `(length, n_in)` with the same `n_in` for all; targets are all
            per-step `(length, n_out)` or all of one end-of-sequence shape.

    Returns:
        `(inputs, targets, lengths)`: float32 `(batch, max_length, n_in)`,
        float32 `(batch, max_length, n_out)` (per-step) or
        `(batch, *target_shape)` (end of sequence), int `(batch,)`.
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError(
            f"Argument `sequences` must hold at least one sequence. "
            f"Received: sequences={sequences}"
        )
    inputs = [np.asarray(x, dtype="float32") for x, _ in sequences]
    targets = [np.asarray(y, dtype="float32") for _, y in sequences]
    widths = {x.shape[1:] for x in inputs}
    if any(x.ndim != 2 for x in inputs) or len(widths) != 1:
        raise ValueError(
            "Every input must be (length, n_in) with the same n_in. Received "
            f"input shapes: {sorted({x.shape for x in inputs})}"
        )
    lengths = np.array([len(x) for x in inputs])
    batch = np.zeros((len(inputs), lengths.max(), *widths.pop()), "float32")
    for row, x in enumerate(inputs):
        batch[row, : len(x)] = x
    per_step = [y.ndim >= 2 for y in targets]
    if all(per_step):
        if any(len(y) != len(x) for x, y in zip(inputs, targets)) or (
            len({y.shape[1:] for y in targets}) != 1
        ):
            raise ValueError(
                "Per-step targets must be as long as their inputs and of one "
                "width. Received (input, target) shapes: "
                f"{[(x.shape, y.shape) for x, y in zip(inputs, targets)]}"
            )
        padded = np.zeros((len(targets), lengths.max(), *targets[0].shape[1:]))
        for row, y in enumerate(targets):
            padded[row, : len(y)] = y
        return batch, padded.astype("float32"), lengths
    if any(per_step) or len({y.shape for y in targets}) != 1:
        raise ValueError(
            "Targets must be all per-step or all of one end-of-sequence shape. "
            f"Received target shapes: {sorted({y.shape for y in targets})}"
        )
    return batch, np.stack(targets), lengths

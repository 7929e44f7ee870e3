"""Deterministic train/validation splits that keep equal keys together."""

import hashlib


def validation_side(key, validation_fraction, seed):
    """Whether `key` belongs to the validation side.

    Decided by a stable hash of (seed, key), so the split depends neither on
    file order nor on Python's per-process string hashing, and every example
    that shares a key (the same headline, the same source sentence) lands on
    the same side.
    """
    digest = hashlib.sha256(f"{seed}\x00{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < validation_fraction


def check_fraction(validation_fraction, name=None):
    """Raises ValueError unless `validation_fraction` is a number in (0, 1).

    0 would leave nothing to validate on (and a run nothing to pick its best
    model by), 1 nothing to train on.

    Args:
        validation_fraction: The value to check.
        name: How the message names the value when it is a config field
            (e.g. "data.validation_fraction"); by default, as the argument.
    """
    if isinstance(validation_fraction, bool) or not isinstance(
        validation_fraction, (int, float)
    ) or not 0.0 < validation_fraction < 1.0:  # also False for NaN
        if name is None:
            raise ValueError(
                "Argument `validation_fraction` must be a float in (0, 1). "
                f"Received: validation_fraction={validation_fraction!r}"
            )
        raise ValueError(
            f"{name} must be a number between 0 and 1, both excluded (the share "
            f"of the data held out for validation). Received: {validation_fraction!r}"
        )


def split_by_key(examples, key, validation_fraction=0.1, seed=1337):
    """Splits `examples` into `(train, validation)` lists.

    Args:
        examples: A sequence of examples.
        key: A function of an example whose value keeps examples together
            (e.g. its normalised text).
        validation_fraction: Expected share of keys on the validation side.
        seed: Changes which keys go where.
    """
    check_fraction(validation_fraction)
    train, validation = [], []
    for example in examples:
        side = validation_side(key(example), validation_fraction, seed)
        (validation if side else train).append(example)
    return train, validation

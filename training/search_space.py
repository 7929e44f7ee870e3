"""Search spaces for `training.tune`: plain data, narrowed by a YAML/JSON file.

A space maps each hyperparameter's name to its values:

    cell: [original_lstm, lstm/keras, lstm/CIFG, gru]   # a list: one of these
    units: {min: 32, max: 128, step: 32}                # ints: a range
    learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}   # floats
    bidirectional: true                                 # a scalar: fixed

`--space FILE` replaces the default entry of each name it lists, so a user
narrows a range, drops cells, or fixes a value without touching the rest.
Each task's names map onto its training config (`CONFIG_KEYS`), so a
trial's values become `--set` overrides of the task's base config, and the
best trial is a training config as it stands.
"""

import functools
import math

from training.config import ConfigError, read_config_file

# A cell choice -> (model.cell, model.cell_options). "lstm/VARIANT" names a
# variant of Greff et al. 2017 ("keras" is Keras's LSTM, without peepholes);
# the 1997 LSTM takes the sarcasm entry's blocks of two with the truncated
# gradient; every other cell of `zoo.layers.catalog` is a choice by its own
# name, with its defaults.
_CONFIGURED_CELLS = {
    "original_lstm": ("original_lstm", {"block_size": 2, "truncated_gradient": True}),
    **{
        f"lstm/{variant}": ("lstm", {"variant": variant})
        for variant in ("keras", "vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP",
                        "CIFG", "FGR")
    },
    "gru": ("gru", {"reset_after": True}),
    "gru/reset_before": ("gru", {"reset_after": False}),
}


@functools.cache
def cell_choices():
    """Every cell a space may list -> (model.cell, model.cell_options).

    Read from the catalogue on first use, so that the commands check their
    arguments before TensorFlow is imported.
    """
    from zoo.layers.catalog import CATALOG

    catalogued = {name: (name, {}) for name in CATALOG if name not in ("lstm", "original_lstm")}
    return {**catalogued, **_CONFIGURED_CELLS}


_MODERN_CELLS = ["original_lstm", "lstm/keras", "lstm/vanilla", "lstm/CIFG", "lstm/NP",
                 "lstm/NFG", "gru"]
_SHARED = {
    "cell": _MODERN_CELLS,
    "units": {"min": 32, "max": 128, "step": 32},
    "num_layers": {"min": 1, "max": 2},
    "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    "batch_size": [32, 64, 128],
}
# Each task's default space; spaces are kept small enough for a 2-core CPU.
SPACES = {
    "classification": {
        **_SHARED,
        "bidirectional": [True, False],
        "embedding_dim": [64, 128],
    },
    "translation": {
        **_SHARED,
        "units": {"min": 64, "max": 256, "step": 64},
        "num_layers": 1,
        "bidirectional": [True, False],
        "embedding_dim": [64, 128],
        "dropout": {"min": 0.0, "max": 0.3, "step": 0.1},
    },
    "adding": {
        **_SHARED,
        "units": {"min": 16, "max": 64, "step": 16},
        "dropout": 0.0,
    },
}
# Where each hyperparameter goes in a task's training config.
CONFIG_KEYS = {
    "classification": {"num_layers": "model.num_layers", "bidirectional": "model.bidirectional",
                       "embedding_dim": "model.embedding_dim"},
    "translation": {"num_layers": "model.encoder_layers",
                    "bidirectional": "model.bidirectional_encoder",
                    "embedding_dim": "model.embedding_dim"},
    "adding": {"num_layers": "model.num_layers"},
}
for _keys in CONFIG_KEYS.values():
    _keys.update({"units": "model.units", "dropout": "model.dropout",
                  "learning_rate": "training.learning_rate",
                  "batch_size": "training.batch_size"})
_RANGE_KEYS = {"min", "max", "step", "sampling"}


def load_space(task, path=None):
    """The task's space, with the entries of the file at `path` laid on top."""
    space = dict(SPACES[task])
    if path is None:
        return space
    update = read_config_file(path)
    for name, spec in update.items():
        if name not in space:
            raise ConfigError(
                f"{path}: unknown hyperparameter {name!r} for the {task} task; "
                f"expected one of {sorted(space)}"
            )
        check_spec(name, spec, str(path))
        space[name] = spec
    return space


def check_spec(name, spec, source):
    """Raises ConfigError naming `source` and `name` for a malformed entry."""
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{source}: {name} lists no values")
        if len({type(value) for value in spec}) > 1:
            raise ConfigError(f"{source}: {name} mixes value types: {spec!r}")
        values = spec
    elif isinstance(spec, dict):
        unknown = set(spec) - _RANGE_KEYS
        if unknown or not {"min", "max"} <= set(spec):
            raise ConfigError(
                f"{source}: {name} must be a list, a scalar, or a range with min and max "
                f"(and optional step, sampling). Received: {spec!r}"
            )
        low, high = spec["min"], spec["max"]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numbers or low > high:
            raise ConfigError(f"{source}: {name} needs numbers min <= max. Received: {spec!r}")
        if spec.get("sampling", "linear") not in ("linear", "log"):
            raise ConfigError(
                f"{source}: {name}.sampling must be 'linear' or 'log'. "
                f"Received: {spec['sampling']!r}")
        if spec.get("sampling") == "log" and low <= 0:
            raise ConfigError(f"{source}: {name} with log sampling needs min > 0. Received: {low}")
        values = []
    else:
        values = [spec]
    if name == "cell":
        for value in values:
            if value not in cell_choices():
                raise ConfigError(
                    f"{source}: unknown cell {value!r}; "
                    f"expected one of {sorted(cell_choices())}")


def declare(hp, space):
    """Declares every entry of `space` on the `keras_tuner.HyperParameters`;
    returns name -> this trial's value."""
    values = {}
    for name, spec in space.items():
        if isinstance(spec, list) and all(isinstance(value, bool) for value in spec):
            # hp.Choice would hand the booleans back as 1 and 0.
            values[name] = hp.Boolean(name) if len(set(spec)) > 1 else hp.Fixed(name, spec[0])
        elif isinstance(spec, list):
            values[name] = hp.Choice(name, spec)
        elif isinstance(spec, dict):
            values[name] = _declare_range(hp, name, spec)
        else:
            values[name] = hp.Fixed(name, spec)
    return values


def _declare_range(hp, name, spec):
    low, high = spec["min"], spec["max"]
    sampling = spec.get("sampling", "linear")
    step = spec.get("step")
    if all(isinstance(v, int) for v in (low, high)) and isinstance(step or 1, int):
        return hp.Int(name, low, high, step=step or 1, sampling=sampling)
    return hp.Float(name, float(low), float(high), step=step, sampling=sampling)


def config_overrides(task, values):
    """A trial's values as `--set` overrides of the task's config."""
    overrides = []
    for name, value in values.items():
        if name == "cell":
            cell, options = cell_choices()[value]
            overrides.append(f"model.cell={cell}")
            overrides.append("model.cell_options={}")
            overrides += [f"model.cell_options.{k}={_yaml(v)}" for k, v in options.items()]
        else:
            overrides.append(f"{CONFIG_KEYS[task][name]}={_yaml(value)}")
    return overrides


def _yaml(value):
    """`value` as `--set` reads it back (YAML): floats exactly, booleans lower-case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value)

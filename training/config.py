"""Training configs: one YAML or JSON file per zoo entry, plus overrides.

A config is a nested dict. Loading one starts from its task's defaults
(`training/defaults.py`), lays the file on top, then the command line's
`--set section.key=value` overrides; a key the task does not know is
an error naming the key and where it came from, so a typo never trains the
wrong model silently. The resolved config is what a run saves and what
`--resume` and retraining read back.
"""

import copy
import json
import pathlib

import yaml

CONFIG_DIR = pathlib.Path(__file__).resolve().parent / "configs"
# Sections whose keys are free (a layer family's own arguments).
FREE_FORM = ("cell_options",)


class ConfigError(ValueError):
    """A config file or override is malformed or names an unknown key."""


def entry_path(entry):
    """The config file of zoo entry `entry`, or `entry` itself if it is a path."""
    candidate = pathlib.Path(entry)
    if candidate.suffix in (".yaml", ".yml", ".json") and candidate.exists():
        return candidate
    for suffix in (".yaml", ".yml", ".json"):
        path = CONFIG_DIR / f"{entry}{suffix}"
        if path.exists():
            return path
    known = sorted(p.stem for p in CONFIG_DIR.glob("*.y*ml")) + sorted(
        p.stem for p in CONFIG_DIR.glob("*.json")
    )
    raise ConfigError(
        f"Unknown zoo entry {entry!r}: no file {entry!r} and no "
        f"training/configs/{entry}.yaml. Known entries: {', '.join(known)}"
    )


def read_config_file(path):
    """Parses a YAML or JSON config file into a dict."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
    except OSError as error:  # missing, a directory, unreadable
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}, line {error.lineno}: invalid JSON ({error.msg})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


# Keys whose value may have a type other than their default's, by dotted
# name: a table's columns are picked by header name or by 0-based index
# (the only way without a header), whatever the default or a saved run has.
KEY_TYPES = {
    "data.text_column": (str, int),
    "data.label_column": (str, int),
}


def coerce(default, value, name, source):
    """`value` checked against the type of `default` (or the types
    `KEY_TYPES` allows for `name`); YAML reads "1e-4" as a string.

    Args:
        default: The value `value` replaces: the task's default, or what a
            config file or saved run set. None accepts any value.
        value: The new value.
        name: Its dotted key, e.g. "model.units".
        source: Where it came from (a file, or "--set ..."), for errors.

    Returns:
        `value`, as a float where `default` is one.

    Raises:
        ConfigError: naming the key, the type(s) expected and the value.
    """
    if value is None:
        return value
    if name in KEY_TYPES:
        allowed = KEY_TYPES[name]
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise _type_error(name, allowed, value, source)
        return value
    if default is None:
        return value
    if isinstance(default, float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = type(default)
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise _type_error(name, (expected,), value, source)
    return value


def _type_error(name, types, value, source):
    # Says nothing of the default: the value replaced may be the user's own
    # (a config file under a --set, a saved run's config).
    expected = " or ".join(t.__name__ for t in types)
    return ConfigError(
        f"{source}: {name} must be {expected}. Received: {value!r} "
        f"({type(value).__name__})"
    )


def merge(base, update, source, prefix=""):
    """`base` with `update` laid on top; unknown keys raise ConfigError."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        name = f"{prefix}{key}"
        if key not in merged:
            raise ConfigError(
                f"{source}: unknown key {name!r}; expected one of "
                f"{sorted(prefix + k for k in merged)}"
            )
        if isinstance(merged[key], dict) and merged[key] and isinstance(value, dict):
            merged[key] = merge(merged[key], value, source, f"{name}.")
        else:
            merged[key] = coerce(merged[key], copy.deepcopy(value), name, source)
    return merged


def parse_override(text):
    """`"model.units=128"` -> `(["model", "units"], 128)` (YAML-typed value)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. model.units=128")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    if not all(path):
        raise ConfigError(f"--set {text!r}: malformed key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value


def apply_overrides(config, overrides):
    """Applies `--set` overrides; a new key is allowed only in a free-form
    section (`model.cell_options`)."""
    config = copy.deepcopy(config)
    for text in overrides:
        path, value = parse_override(text)
        node = config
        for depth, key in enumerate(path[:-1]):
            if key not in node or not isinstance(node[key], dict):
                raise ConfigError(
                    f"--set {text!r}: unknown section {'.'.join(path[: depth + 1])!r}"
                )
            node = node[key]
        last = path[-1]
        free_form = len(path) > 1 and path[-2] in FREE_FORM
        if last not in node and not free_form:
            raise ConfigError(
                f"--set {text!r}: unknown key {'.'.join(path)!r}; expected one of "
                f"{sorted('.'.join(path[:-1] + [k]) for k in node)}"
            )
        key = ".".join(path)
        node[last] = coerce(node.get(last), value, key, f"--set {text!r}")
    return config


def resolve(defaults, file_config, source, overrides=()):
    """Task defaults <- config file <- `--set` overrides."""
    config = merge(defaults, file_config, source)
    return apply_overrides(config, overrides)

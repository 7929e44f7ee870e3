"""Config files and overrides: typed, validated, and named when wrong."""

import pytest

from training.config import (
    ConfigError,
    apply_overrides,
    entry_path,
    read_config_file,
    resolve,
)
from training.tasks import classification

DEFAULTS = classification.DEFAULTS


def test_file_then_overrides_on_top_of_the_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  units: 96\n  cell_options: {variant: CIFG}\n")
    config = resolve(DEFAULTS, read_config_file(path), str(path),
                     ["training.learning_rate=3e-4", "model.cell_options.variant=NP",
                      "model.cell_options.recurrent_initializer=zeros",
                      "data.class_names=[a, b]"])
    assert config["model"]["units"] == 96
    assert config["model"]["cell_options"] == {"variant": "NP", "recurrent_initializer": "zeros"}
    assert config["training"]["learning_rate"] == pytest.approx(3e-4)  # YAML reads "3e-4" as text
    assert isinstance(config["training"]["learning_rate"], float)
    assert config["data"]["class_names"] == ["a", "b"]
    assert config["model"]["cell"] == "lstm"  # untouched default
    assert DEFAULTS["model"]["units"] == 64  # defaults are not mutated


@pytest.mark.parametrize(
    "text, message",
    [
        ("model:\n  unit: 3\n", "unknown key 'model.unit'"),
        ("modle: {}\n", "unknown key 'modle'"),
        ("model:\n  units: many\n", "model.units must be int .*Received: 'many'"),
        ("model:\n  bidirectional: 1\n", "model.bidirectional must be bool"),
        ("model: [1, 2\n", r"line \d+: invalid YAML"),
        ("- a\n- b\n", "expected a mapping of sections"),
    ],
)
def test_bad_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        resolve(DEFAULTS, read_config_file(path), str(path))
    assert str(path) in str(error.value)


def test_json_configs_and_their_errors(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"training": {"epochs": 7}}')
    assert resolve(DEFAULTS, read_config_file(path), str(path))["training"]["epochs"] == 7
    path.write_text('{"training": {"epochs": 7,}}')
    with pytest.raises(ConfigError, match="line 1: invalid JSON"):
        read_config_file(path)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.units", "expected KEY=VALUE"),
        ("model..units=3", "malformed key"),
        ("model.units=3.5", "model.units must be int"),
        ("optimizer.lr=1", "unknown section 'optimizer'"),
        ("model.depth=2", "unknown key 'model.depth'"),
    ],
)
def test_bad_overrides_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(DEFAULTS, [override])


def test_entries_resolve_by_name_or_path(tmp_path):
    assert entry_path("sarcasm_lstm").name == "sarcasm_lstm.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text("task: classification\n")
    assert entry_path(str(own)) == own
    with pytest.raises(ConfigError, match="Known entries: .*sarcasm_gru"):
        entry_path("sarcasm_transformer")

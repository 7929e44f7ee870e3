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
        ("model:\n  units: many\n", r"model.units must be int\. Received: 'many' \(str\)"),
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


@pytest.mark.parametrize(
    "text, overrides, expected",
    [
        ("data: {header: false, text_column: 1, label_column: 0}\n", [], (1, 0)),
        ("data: {text_column: review, label_column: 2}\n", [], ("review", 2)),
        # A saved run's int does not pin the type: a name may replace it.
        ("data: {text_column: 1}\n", ["data.text_column=review", "data.label_column=3"],
         ("review", 3)),
    ],
)
def test_table_columns_take_names_or_indexes(tmp_path, text, overrides, expected):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    data = resolve(DEFAULTS, read_config_file(path), str(path), overrides)["data"]
    assert (data["text_column"], data["label_column"]) == expected


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.text_column=1.5", "data.text_column must be str or int. Received: 1.5 (float)"),
        ("data.label_column=true", "data.label_column must be str or int. Received: True (bool)"),
        ("data.header=1", "data.header must be bool. Received: 1 (int)"),
        # The value replaced is the file's (96), not a default: no "default".
        ("model.units=big", "model.units must be int. Received: 'big' (str)"),
    ],
)
def test_type_errors_name_key_types_and_value_not_a_default(tmp_path, override, message):
    path = tmp_path / "c.yaml"
    path.write_text("model: {units: 96}\n")
    with pytest.raises(ConfigError) as error:
        resolve(DEFAULTS, read_config_file(path), str(path), [override])
    assert str(error.value) == f"--set {override!r}: {message}"


def _table_config(*overrides):
    return apply_overrides(DEFAULTS, ["data.format=table", *overrides])


def test_a_headerless_tsv_txt_loads_from_config_and_says_what_it_read(tmp_path, capsys):
    path = tmp_path / "spam.txt"
    path.write_text('spam\tWIN "free now\nham\thi\n\nham\tok\n')
    config = _table_config("data.header=false", "data.text_column=1", "data.label_column=0")
    data = classification.load_file(config, path)
    assert data.texts == ['WIN "free now', "hi", "ok"] and data.labels == [1, 0, 0]
    printed = capsys.readouterr().out.splitlines()
    assert printed == [data.summary]
    assert printed[0].startswith(f"Read {path}: 3 examples in 2 classes (ham 2, spam 1);")
    assert printed[0].endswith("skipped 1 blank line (line 3)")
    # A run saved before `data.quoting` existed still loads.
    del config["data"]["quoting"]
    assert classification.load_file(config, path).texts == data.texts
    train, validation = classification.load_data(config, path)
    assert len(train) + len(validation) == 3


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.header=false"], "data.text_column must be a 0-based column index (an int >= 0) "
         "when the file has no header (there are no column names to match). Received: 'text'"),
        (["data.quoting=always"], "data.quoting must be 'none' (quotes are text), 'csv' "
         "(standard CSV quoted fields) or None (none for tab-separated files, csv "
         "otherwise). Received: 'always'"),
        (["data.delimiter=|"], "data.delimiter must be one character"),  # YAML: ''
        (["data.class_names=[a, a]"], "data.class_names must be a list of distinct"),
        (["data.format=tsv"], "data.format must be 'sarcasm' or 'table'. Received: 'tsv'"),
    ],
)
def test_bad_data_keys_are_config_errors_naming_the_key(tmp_path, overrides, message):
    path = tmp_path / "t.csv"
    path.write_text("text,label\nhi,a\nyo,b\n")
    with pytest.raises(ConfigError) as error:
        classification.load_file(_table_config(*overrides), path)
    assert str(error.value).startswith(message)
    with pytest.raises(ConfigError, match="data.format 'table' needs a file: pass --data PATH"):
        classification.load_file(_table_config())

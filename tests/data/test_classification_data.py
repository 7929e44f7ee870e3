"""Loaders of labelled texts: sarcasm JSON (lines and array) and CSV/TSV."""

import json

import keras
import pytest

from zoo.data import classification
from zoo.data.classification import (
    load_sarcasm,
    load_text_table,
    split_labeled_texts,
)
from zoo.data.download import DataUnavailableError
from zoo.data.errors import DataFormatError

RECORDS = [
    {"article_link": "https://example.com/a", "headline": "area man wins", "is_sarcastic": 1},
    {"article_link": "https://example.com/b", "headline": "senate passes bill", "is_sarcastic": 0},
    {"headline": "nation's dogs demand rights", "is_sarcastic": 1},
]


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_sarcasm_json_lines_with_crlf(tmp_path):
    text = "\r\n".join(json.dumps(r) for r in RECORDS) + "\r\n"
    data = load_sarcasm(write(tmp_path, "s.json", text))
    assert data.texts == [r["headline"] for r in RECORDS]
    assert data.labels == [1, 0, 1]
    assert data.class_names == ("not_sarcastic", "sarcastic")


def test_sarcasm_json_array(tmp_path):
    data = load_sarcasm(write(tmp_path, "s.json", json.dumps(RECORDS, indent=1)))
    assert data.labels == [1, 0, 1]


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"headline": "x", "is_sarcastic": 1', "line 2: expected one JSON object per line; got invalid JSON"),
        ('{"headline": "x"}', "line 2: expected a JSON object.*missing is_sarcastic"),
        ('{"is_sarcastic": 0}', "line 2: .*missing headline"),
        ('{"headline": "x", "is_sarcastic": 2}', 'line 2: expected "is_sarcastic" 0 or 1; got 2'),
        ('{"headline": "x", "is_sarcastic": "1"}', "line 2: .*got '1'"),
        ('{"headline": "", "is_sarcastic": 1}', 'line 2: expected a non-empty string "headline"'),
        ('[1, 2]', "line 2: expected a JSON object.*got list"),
    ],
)
def test_sarcasm_malformed_line_names_file_and_line(tmp_path, line, expected):
    path = write(tmp_path, "bad.json", json.dumps(RECORDS[0]) + "\n" + line + "\n")
    with pytest.raises(DataFormatError, match=expected) as error:
        load_sarcasm(path)
    assert str(path) in str(error.value)
    assert error.value.line == 2


def test_sarcasm_array_element_errors_name_the_element(tmp_path):
    records = RECORDS + [{"headline": "x", "is_sarcastic": 5}]
    with pytest.raises(DataFormatError, match="array element 4: .*got 5"):
        load_sarcasm(write(tmp_path, "a.json", json.dumps(records)))


def test_invalid_utf8_and_empty_files(tmp_path):
    bad = json.dumps(RECORDS[0]).encode() + b"\n" + b'{"headline": "caf\xe9", "is_sarcastic": 0}\n'
    with pytest.raises(DataFormatError, match="line 2: expected UTF-8"):
        load_sarcasm(write(tmp_path, "latin1.json", bad))
    with pytest.raises(DataFormatError, match="empty"):
        load_sarcasm(write(tmp_path, "empty.json", "\n\n"))
    with pytest.raises(FileNotFoundError):
        load_sarcasm(tmp_path / "missing.json")


def test_csv_and_tsv_tables_with_any_number_of_classes(tmp_path):
    csv_path = write(
        tmp_path, "reviews.csv",
        'review,stars\n"great, truly great",good\nawful,bad\nmeh,neutral\nfine,good\n',
    )
    data = load_text_table(csv_path, text_column="review", label_column="stars")
    assert data.texts[0] == "great, truly great"
    assert data.class_names == ("bad", "good", "neutral")
    assert data.labels == [1, 0, 2, 1]
    tsv_path = write(tmp_path, "t.tsv", "1\tspam text\n0\tham text\n")
    data = load_text_table(tsv_path, text_column=1, label_column=0, header=False,
                           class_names=["0", "1"])
    assert data.texts == ["spam text", "ham text"] and data.labels == [1, 0]


@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ("text,label\nhello\n", {}, "line 2: expected at least 2 fields separated by ','; got 1"),
        ("words,label\nhi,a\n", {}, "line 1: expected a column named 'text'"),
        ("text,label\nhi,a\nyo,b\nno,c\n", {"class_names": ["a", "b"]}, "line 4: expected a label in \\['a', 'b'\\]; got 'c'"),
        ("text,label\nhi,a\nyo,a\n", {}, "expected at least 2 classes"),
        ("text,label\n", {}, "no data rows"),
    ],
)
def test_table_errors_name_file_and_line(tmp_path, text, kwargs, expected):
    path = write(tmp_path, "t.csv", text)
    with pytest.raises(DataFormatError, match=expected) as error:
        load_text_table(path, **kwargs)
    assert str(path) in str(error.value)


def test_split_is_deterministic_order_free_and_keeps_duplicates_together(tmp_path):
    texts = [f"headline number {i}" for i in range(400)] + ["Same Headline"] * 5
    lines = [json.dumps({"headline": t, "is_sarcastic": i % 2}) for i, t in enumerate(texts)]
    data = load_sarcasm(write(tmp_path, "s.json", "\n".join(lines)))
    reversed_data = load_sarcasm(write(tmp_path, "r.json", "\n".join(reversed(lines))))
    train, validation = split_labeled_texts(data, 0.2, seed=3)
    train_r, validation_r = split_labeled_texts(reversed_data, 0.2, seed=3)
    assert sorted(validation.texts) == sorted(validation_r.texts)
    assert 50 < len(validation) < 115
    assert not set(train.texts) & set(validation.texts)
    other = split_labeled_texts(data, 0.2, seed=4)[1]
    assert sorted(other.texts) != sorted(validation.texts)
    with pytest.raises(ValueError, match="validation_fraction=1.5"):
        split_labeled_texts(data, 1.5)


def test_download_fallback_says_where_to_get_the_file(monkeypatch, tmp_path):
    def offline(**kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataUnavailableError, match="--data PATH/Sarcasm_Headlines_Dataset.json") as error:
        classification.default_sarcasm_path()
    assert classification.SARCASM_URL in str(error.value)

    cached = write(tmp_path, "cached.json", json.dumps(RECORDS[0]))
    monkeypatch.setattr(keras.utils, "get_file", lambda **kwargs: str(cached))
    assert load_sarcasm(classification.default_sarcasm_path()).labels == [1]

"""Loaders of labelled texts: sarcasm JSON (lines and array) and CSV/TSV:
what they read, how they say so, and the errors for every bad row."""

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
from zoo.data.errors import DataArgumentError, DataFormatError

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


# The user's report: a headerless label<TAB>text .txt with an unmatched quote,
# quoted words and a blank line.
SPAM_TXT = (
    'spam\tWIN a "free prize now\n'
    'ham\tsee you at 5\n'
    '\n'
    'ham\t"quoted" words, and commas\n'
    'spam\tcall 555 now\n'
    'ham\tok\n'
)


def test_headerless_tab_separated_txt_is_sniffed_and_read_literally(tmp_path):
    path = write(tmp_path, "spam.txt", SPAM_TXT)
    data = load_text_table(path, text_column=1, label_column=0, header=False)
    # Five rows: the unmatched quote merged nothing, no quote was removed.
    assert data.texts == ['WIN a "free prize now', "see you at 5",
                          '"quoted" words, and commas', "call 555 now", "ok"]
    assert data.class_names == ("ham", "spam") and data.labels == [1, 0, 0, 1, 0]
    assert data.summary == (
        f"Read {path}: 5 examples in 2 classes (ham 3, spam 2); text from column 1, "
        "label from column 0; read with delimiter tab (sniffed: a tab is on every one "
        "of the first 5 non-blank lines) and quoting 'none', no header; skipped 1 blank "
        "line (line 3)"
    )
    assert data.subset([0, 1]).summary == ""  # a part is not what the file held


def test_quoting_can_be_turned_on_for_tsv_and_off_for_csv(tmp_path):
    tsv = write(tmp_path, "q.tsv", 'text\tlabel\n"a\tb"\tx\nplain\ty\n')
    assert load_text_table(tsv, quoting="csv").texts == ["a\tb", "plain"]
    with pytest.raises(DataFormatError, match="line 2: expected 2 fields separated by tabs "
                       r"like the header \(line 1\); got 3"):
        load_text_table(tsv)  # quotes are text by default: the tab splits
    csv_path = write(tmp_path, "q.csv", 'text,label\n"say ""hi""",x\nsay "hi",y\n')
    assert load_text_table(csv_path).texts == ['say "hi"', 'say "hi"']
    assert load_text_table(csv_path, quoting="none").texts == ['"say ""hi"""', 'say "hi"']


def test_csv_quoted_line_breaks_are_kept_and_counted(tmp_path):
    path = write(tmp_path, "m.csv", 'id,text,label\n1,"two\nlines",a\n2,one,b\n\n,,\n')
    data = load_text_table(path)
    assert data.texts == ["two\nlines", "one"]
    assert ("text from column 'text' (1), label from column 'label' (2), ignored "
            "column 'id' (0)") in data.summary
    assert "header on line 1; 1 row with quoted line breaks, starting on line 2; " \
           "skipped 2 blank lines (lines 5, 6)" in data.summary


@pytest.mark.parametrize(
    "name, text, delimiter, how",
    [
        ("a.txt", "x\ta\ny, z\tb\n", "\t", "sniffed: a tab"),
        ("a.txt", "x,a\ny\tz,b\n", ",", "sniffed: a comma"),
        ("a.csv", "x\ta\ny\tb\n", "\t", "sniffed: a tab"),  # the content wins
        ("a.csv", "x, y\ta\ny, z\tb\n", ",", "from the .csv file name; tabs and commas are both"),
        ("a.txt", "x, y\ta\ny, z\tb\n", "\t", "guessed: tabs and commas are both"),
        ("a.tsv", "x a\ny b\n", "\t", "from the .tsv file name; neither"),
        ("a.txt", "x a\ny b\n", ",", "guessed: neither a tab nor a comma"),
    ],
)
def test_delimiter_is_sniffed_from_the_first_lines(tmp_path, name, text, delimiter, how):
    path = write(tmp_path, name, text)
    try:
        summary = load_text_table(path, 0, 1, header=False).summary
    except DataFormatError as error:  # a one-column reading: the error says how
        summary = str(error)
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    assert f"read with delimiter {shown} ({how}" in summary


@pytest.mark.parametrize("delimiter", ["tab", "\\t", "\t", "TAB"])
def test_delimiter_names_and_escapes(tmp_path, delimiter):
    path = write(tmp_path, "a.csv", "a,1\tx\nb,2\ty\n")  # commas are text here
    data = load_text_table(path, 0, 1, delimiter=delimiter, header=False)
    assert data.texts == ["a,1", "b,2"] and "delimiter tab (given)" in data.summary
    path = write(tmp_path, "b.txt", "a;x\nb;y\n")
    assert load_text_table(path, 0, 1, delimiter="semicolon", header=False).texts == ["a", "b"]


@pytest.mark.parametrize(
    "name, text, kwargs, line, expected",
    [
        # A row unlike the header or the first row, with the way it was read.
        ("t.csv", "text,label\nhello\n", {}, 2,
         r"expected 2 fields separated by ',' like the header \(line 1\); got 1 in 'hello'; "
         r"read with delimiter ',' \(from the .csv file name; neither a tab nor a comma is "
         r"on every one of the first 2 non-blank lines\) and quoting 'csv'\. To read it "
         r"otherwise .*--set data.delimiter=tab or --set data.quoting=none"),
        ("t.txt", "a\tx\nb\tmore\ttext\n",
         {"header": False, "text_column": 1, "label_column": 0}, 2,
         r"expected 2 fields separated by tabs like the first row \(line 1\); got 3 "
         r"in 'b\\tmore\\ttext'; read with delimiter tab .*quoting 'none'"),
        # An unmatched quote in CSV that a later quote closes: the row says so.
        ("t.csv", 'text,label\n"oops,a\nnext,b\nend",c,d\nfine,e\n', {}, 2,
         r"got 3 .*the row runs from line 2 to line 4: a quoted field holds line breaks; "
         r'is a " unmatched\?'),
        ('t.csv', 'text,label\nok,a\n"never closed,b\nmore,c\n', {}, 3,
         r"a quoted field opened on this line \('\"never closed,b'\) is still open at the "
         r"end of the file \(line 4\).*quoting='none'"),
        ("t.csv", 'text,label\n"x" y,a\n', {}, 2,
         r"got a malformed row \(',' expected after '\"'\) in '\"x\" y,a'"),
        ("t.csv", "text,label\nhi,a\nyo, \n", {}, 3,
         r"expected a label in column 'label' \(1\); got an empty field in 'yo, '"),
        ("t.csv", "text,label\nhi,a\n  ,b\n", {}, 3,
         r"expected a text in column 'text' \(0\); got an empty field"),
        ("t.txt", "a\tx\n\ty\n", {"header": False, "text_column": 1, "label_column": 0}, 2,
         r"expected a label in column 0; got an empty field"),
        ("t.csv", "words,label\nhi,a\n", {}, 1,
         r"expected a column named 'text' \(text_column\) in the header; got \['words', "
         r"'label'\].*pass header=False"),
        ("t.csv", "text,label\nhi,a\n", {"label_column": 2}, 1,
         r"label_column=2 is past the end of the header, which has 2 columns"),
        ("t.csv", "text,text,label\nhi,x,a\n", {}, 1,
         r"expected one column named 'text' \(text_column\) in the header; got 2 "
         r"\(columns \[0, 1\]\)"),
        ("t.csv", "text,label\nhi,a\n", {"label_column": 0}, 1,
         r"both are column 'text' \(0\)"),
        ("t.txt", "a\tx\n", {"header": False, "text_column": 2, "label_column": 0}, 1,
         r"text_column=2 is past the end of the first row, which has 2 fields"),
        ("t.csv", "text,label\nhi,a\nyo,b\nno,c\n", {"class_names": ["a", "b"]}, 4,
         r"expected a label in \['a', 'b'\]; got 'c'"),
        ("t.csv", "text,label\nhi,a\nyo,a\n", {}, None, "expected at least 2 classes"),
        ("t.csv", "text,label\n", {}, None, "the file has a header but no data rows"),
        ("t.csv", ",\n , \n", {}, None, "got only blank ones"),
        ("t.txt", "ok\ta\nbad\rbyte\tb\n", {"header": False, "text_column": 0, "label_column": 1},
         2, r"got a malformed row \(a carriage return \(\\r\) inside the line, outside quotes\)"),
    ],
)
def test_table_errors_name_file_and_line(tmp_path, name, text, kwargs, line, expected):
    path = write(tmp_path, name, text)
    with pytest.raises(DataFormatError, match=expected) as error:
        load_text_table(path, **kwargs)
    where = str(path) if line is None else f"{path}, line {line}: "
    assert str(error.value).startswith(where)
    assert error.value.line == line


@pytest.mark.parametrize(
    "kwargs, argument, value, expected",
    [
        ({"header": False}, "text_column", "text", "a 0-based column index"),
        ({"header": False, "text_column": "1", "label_column": 0}, "text_column", "1",
         "when the file has no header"),
        ({"text_column": -1}, "text_column", -1, "a column name from the header"),
        ({"label_column": True}, "label_column", True, "or a 0-based column index"),
        ({"text_column": 1, "label_column": 1}, "label_column", 1,
         "another column than text_column=1"),
        ({"delimiter": "ab"}, "delimiter", "ab", "one character"),
        ({"delimiter": '"'}, "delimiter", '"', "one character other than a quote"),
        ({"delimiter": ""}, "delimiter", "", "one character"),
        ({"quoting": "yes"}, "quoting", "yes", "'none' (quotes are text), 'csv'"),
        ({"header": "no"}, "header", "no", "True or False"),
        ({"class_names": "ab"}, "class_names", "ab", "a list of distinct"),
        ({"class_names": ["a", "a"]}, "class_names", ["a", "a"], "a list of distinct"),
        ({"class_names": ["a", ""]}, "class_names", ["a", ""], "non-empty"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(tmp_path, kwargs, argument, value, expected):
    path = write(tmp_path, "t.csv", "text,label\nhi,a\nyo,b\n")
    with pytest.raises(DataArgumentError, match=f"Argument `{argument}` must be") as error:
        load_text_table(path, **kwargs)
    assert error.value.argument == argument and error.value.value == value
    assert expected in error.value.expected
    assert f"Received: {argument}={value!r}" in str(error.value)


def test_integer_class_names_match_the_files_labels(tmp_path):
    path = write(tmp_path, "t.tsv", "1\tspam\n0\tham\n")
    data = load_text_table(path, 1, 0, header=False, class_names=[0, 1, 2])
    assert data.class_names == ("0", "1", "2") and data.labels == [1, 0]
    assert "3 classes (0 1, 1 1, 2 0)" in data.summary  # a class the file lacks shows 0


def test_summary_shortens_many_classes_and_blank_lines(tmp_path):
    rows = [f"text {i},c{i:02d}" for i in range(12)]
    path = write(tmp_path, "t.csv", "text,label\n" + "\n\n".join(rows) + "\n")
    summary = load_text_table(path).summary
    assert "12 examples in 12 classes (c00 1, c01 1," in summary
    assert "c09 1, ... (2 more)" in summary
    assert "skipped 11 blank lines (lines 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, ...)" in summary


def test_sarcasm_summary_counts_classes_and_blank_lines(tmp_path):
    text = "\n".join(json.dumps(r) for r in RECORDS[:2]) + "\n\n" + json.dumps(RECORDS[2]) + "\n"
    path = write(tmp_path, "s.json", text)
    assert load_sarcasm(path).summary == (
        f"Read {path}: 3 examples in 2 classes (not_sarcastic 1, sarcastic 2); "
        "JSON lines; skipped 1 blank line (line 3)"
    )
    array = write(tmp_path, "a.json", json.dumps(RECORDS))
    assert load_sarcasm(array).summary.endswith("; a JSON array; nothing skipped")


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

"""Labelled texts for the text classifier, from any of the supported files.

- `load_sarcasm(path)`: the News Headlines Dataset for Sarcasm Detection
  (Misra & Arora), as JSON lines `{"article_link", "headline",
  "is_sarcastic"}` (CRLF line ends allowed) or as one JSON array of those
  objects.
- `load_text_table(path, ...)`: the user's own CSV or TSV with a text column
  and a label column, any number of classes.

Both return `LabeledTexts` and raise `zoo.data.errors.DataFormatError`
naming the file, the line and what was expected for any malformed row;
nothing is returned half-read.
"""

import csv
import dataclasses
import io
import json

from zoo.data.download import fetch
from zoo.data.errors import DataFormatError, read_text_lines
from zoo.data.split import split_by_key

SARCASM_CLASSES = ("not_sarcastic", "sarcastic")
SARCASM_URL = (
    "https://raw.githubusercontent.com/rishabhmisra/"
    "News-Headlines-Dataset-For-Sarcasm-Detection/master/"
    "Sarcasm_Headlines_Dataset.json"
)


@dataclasses.dataclass
class LabeledTexts:
    """Texts with integer labels indexing `class_names`."""

    texts: list
    labels: list
    class_names: tuple

    def __len__(self):
        return len(self.texts)

    def subset(self, indices):
        return LabeledTexts(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            self.class_names,
        )


def split_labeled_texts(data, validation_fraction=0.1, seed=1337):
    """Deterministic `(train, validation)` split; equal texts stay together."""
    indices = range(len(data))
    train, validation = split_by_key(
        indices,
        key=lambda i: " ".join(data.texts[i].lower().split()),
        validation_fraction=validation_fraction,
        seed=seed,
    )
    return data.subset(train), data.subset(validation)


def default_sarcasm_path():
    """The sarcasm data set from its public address, cached once."""
    return fetch(
        "sarcasm",
        SARCASM_URL,
        "Sarcasm_Headlines_Dataset.json",
        "--data PATH/Sarcasm_Headlines_Dataset.json",
    )


def load_sarcasm(path):
    """Reads the sarcasm headlines file (JSON lines or a JSON array)."""
    lines = list(read_text_lines(path))
    first = next(text.lstrip() for _, text in lines if text.strip())
    if first.startswith("["):
        records = _json_array_records(path, "\n".join(text for _, text in lines))
    else:
        records = _json_lines_records(path, lines)
    texts, labels = [], []
    for number, element, record in records:
        # A JSON array has no line per record: name the element instead.
        where = "" if element is None else f"array element {element}: "

        def fail(problem):
            raise DataFormatError(path, number, where + problem)

        expected = 'a JSON object with a string "headline" and "is_sarcastic" 0 or 1'
        if not isinstance(record, dict):
            fail(f"expected {expected}; got {type(record).__name__}")
        missing = [k for k in ("headline", "is_sarcastic") if k not in record]
        if missing:
            fail(f"expected {expected}; missing {', '.join(missing)}")
        headline, label = record["headline"], record["is_sarcastic"]
        if not isinstance(headline, str) or not headline.strip():
            fail(f'expected a non-empty string "headline"; got {headline!r}')
        if isinstance(label, bool) or label not in (0, 1):
            fail(f'expected "is_sarcastic" 0 or 1; got {label!r}')
        texts.append(headline)
        labels.append(int(label))
    return LabeledTexts(texts, labels, SARCASM_CLASSES)


def _json_lines_records(path, lines):
    records = []
    for number, text in lines:
        if not text.strip():
            continue
        try:
            records.append((number, None, json.loads(text)))
        except json.JSONDecodeError as error:
            raise DataFormatError(
                path, number, f"expected one JSON object per line; got invalid "
                f"JSON ({error.msg} at column {error.colno})"
            ) from None
    return records


def _json_array_records(path, text):
    try:
        array = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFormatError(
            path, error.lineno, f"expected a JSON array of objects; got invalid "
            f"JSON ({error.msg} at column {error.colno})"
        ) from None
    if not isinstance(array, list):
        raise DataFormatError(path, 1, "expected a JSON array of objects")
    return [(None, element, record) for element, record in enumerate(array, 1)]


def load_text_table(
    path,
    text_column="text",
    label_column="label",
    delimiter=None,
    header=True,
    class_names=None,
):
    """Reads a CSV or TSV file of texts and labels.

    Args:
        path: The file (UTF-8).
        text_column, label_column: Column names (with a header) or 0-based
            indices (with or without one).
        delimiter: Field separator; None picks a tab for `.tsv` files and a
            comma otherwise.
        header: Whether the first row names the columns.
        class_names: The labels, in class-index order. None: the sorted set
            of labels found. A label outside a given list is an error.

    Returns:
        `LabeledTexts`.
    """
    if delimiter is None:
        delimiter = "\t" if str(path).lower().endswith(".tsv") else ","
    text = "\n".join(line for _, line in read_text_lines(path))
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for row in reader:
        if row and any(field.strip() for field in row):
            rows.append((reader.line_num, row))
    if header:
        if not rows:
            raise DataFormatError(path, None, "the file has no rows")
        (_, names), rows = rows[0], rows[1:]
        columns = [_column_index(path, names, c) for c in (text_column, label_column)]
    else:
        columns = [text_column, label_column]
        for name, column in zip(("text_column", "label_column"), columns):
            if not isinstance(column, int) or column < 0:
                raise ValueError(
                    f"Without a header, `{name}` must be a column index. "
                    f"Received: {name}={column!r}"
                )
    if not rows:
        raise DataFormatError(path, None, "the file has a header but no data rows")
    text_index, label_index = columns
    texts, raw_labels = [], []
    for number, row in rows:
        if len(row) <= max(text_index, label_index):
            raise DataFormatError(
                path, number, f"expected at least {max(columns) + 1} fields "
                f"separated by {delimiter!r}; got {len(row)}"
            )
        texts.append(row[text_index])
        raw_labels.append((number, row[label_index].strip()))
    if class_names is None:
        class_names = sorted({label for _, label in raw_labels})
    class_names = tuple(class_names)
    index = {name: i for i, name in enumerate(class_names)}
    labels = []
    for number, label in raw_labels:
        if label not in index:
            raise DataFormatError(
                path, number, f"expected a label in {list(class_names)}; got {label!r}"
            )
        labels.append(index[label])
    if len(class_names) < 2:
        raise DataFormatError(
            path, None, f"expected at least 2 classes; found {list(class_names)}"
        )
    return LabeledTexts(texts, labels, class_names)


def _column_index(path, names, column):
    if isinstance(column, int):
        if not 0 <= column < len(names):
            raise DataFormatError(
                path, 1, f"expected a column index below {len(names)}; got {column}"
            )
        return column
    if column not in names:
        raise DataFormatError(
            path, 1, f"expected a column named {column!r} in the header; "
            f"got {names}"
        )
    return names.index(column)

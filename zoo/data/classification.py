"""Labelled texts for the text classifier, from any of the supported files.

- `load_sarcasm(path)`: the News Headlines Dataset for Sarcasm Detection
  (Misra & Arora), as JSON lines `{"article_link", "headline",
  "is_sarcastic"}` (CRLF line ends allowed) or as one JSON array of those
  objects.
- `load_text_table(path, ...)`: the user's own CSV or TSV (or `.txt` of
  either; the delimiter is sniffed) with a text column and a label column,
  any number of classes.

Both return `LabeledTexts` whose `summary` is one line saying what was read
(examples, classes with counts, how the file was parsed, what was skipped),
and raise `zoo.data.errors.DataFormatError` naming the file, the line and
what was expected for any malformed row; nothing is returned half-read and
no row is dropped or altered without a word. A bad argument raises
`zoo.data.errors.DataArgumentError` naming it and the value received.
"""

import collections
import csv
import dataclasses
import json
import pathlib

from zoo.data.download import fetch
from zoo.data.errors import DataArgumentError, DataFormatError, read_text_lines
from zoo.data.split import split_by_key

SARCASM_CLASSES = ("not_sarcastic", "sarcastic")
SARCASM_URL = (
    "https://raw.githubusercontent.com/rishabhmisra/"
    "News-Headlines-Dataset-For-Sarcasm-Detection/master/"
    "Sarcasm_Headlines_Dataset.json"
)


# How a table's quotes are read: "none", every character is text (the rule
# of tab-separated corpora, whose texts hold unmatched quotes); "csv", a
# field that starts with `"` runs to the next lone `"` and `""` is a quote.
QUOTING = ("none", "csv")
# Delimiters by name, for those awkward to type: YAML reads `\t` unquoted as
# a backslash and a t, and `--set data.delimiter=|` as an empty string.
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
SNIFF_LINES = 20  # non-blank lines looked at to pick a delimiter
SHOWN = 10  # classes, or skipped line numbers, a summary lists before "..."


@dataclasses.dataclass
class LabeledTexts:
    """Texts with integer labels indexing `class_names`.

    `summary` is the loader's one-line account of the file (see the module
    docstring); a subset has none, as it is not what the file held.
    """

    texts: list
    labels: list
    class_names: tuple
    summary: str = ""

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
    lines = _without_final_newline(list(read_text_lines(path)))
    first = next(text.lstrip() for _, text in lines if text.strip())
    if first.startswith("["):
        records = _json_array_records(path, "\n".join(text for _, text in lines))
        layout, blank = "a JSON array", []
    else:
        records = _json_lines_records(path, lines)
        layout = "JSON lines"
        blank = [number for number, text in lines if not text.strip()]
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
    summary = _summary(path, labels, SARCASM_CLASSES, [layout, _skipped(blank)])
    return LabeledTexts(texts, labels, SARCASM_CLASSES, summary)


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
    quoting=None,
):
    """Reads a CSV or TSV file of texts and labels.

    Every non-blank row must have as many fields as the header (or, without
    one, the first row); a row that differs, an empty label or text, or a
    CSV quoted field left open at the end of the file is a
    `DataFormatError` naming its line. Blank rows (nothing but spaces and
    delimiters) are skipped and counted in the summary.

    Args:
        path: The file (UTF-8).
        text_column, label_column: With a header, column names or 0-based
            indexes; without one, 0-based indexes.
        delimiter: The field separator: one character, or a name in
            `DELIMITER_NAMES` ("tab", "comma", ...). None sniffs it from the
            first non-blank lines: a tab or a comma if it is on every one of
            them (a tab if both are, unless the name ends in `.csv`); else
            tab for a `.tsv` name and comma otherwise.
        header: Whether the first non-blank row names the columns.
        class_names: The labels, in class-index order. None: the sorted set
            of labels found. A label outside a given list is an error.
        quoting: "none" (quotes are text) or "csv" (standard CSV quoted
            fields). None: "none" with a tab delimiter, "csv" otherwise.

    Returns:
        `LabeledTexts`, with `summary` set.

    Raises:
        DataFormatError: The file does not have the layout asked for.
        DataArgumentError: An argument is malformed.
    """
    if not isinstance(header, bool):
        raise DataArgumentError("header", header, "True or False")
    text_column = _check_column("text_column", text_column, header)
    label_column = _check_column("label_column", label_column, header)
    if text_column == label_column:
        raise DataArgumentError(
            "label_column", label_column, f"another column than text_column={text_column!r}"
        )
    given_delimiter = _check_delimiter(delimiter)
    if quoting is not None and quoting not in QUOTING:
        raise DataArgumentError(
            "quoting", quoting, "'none' (quotes are text), 'csv' (standard CSV "
            "quoted fields) or None (none for tab-separated files, csv otherwise)"
        )
    class_names = _check_class_names(class_names)

    lines = _without_final_newline(list(read_text_lines(path)))
    if given_delimiter is None:
        delimiter, how = _sniff_delimiter(path, lines)
    else:
        delimiter, how = given_delimiter, "given"
    if quoting is None:
        quoting = "none" if delimiter == "\t" else "csv"
    layout = _Layout(path, lines, delimiter, how, quoting)
    rows, blank = _read_rows(layout)
    if not rows:
        raise DataFormatError(
            path, None, f"expected rows of fields; got only blank ones ({layout.describe()})"
        )
    table = _Columns(layout, rows, header, text_column, label_column)
    texts, raw_labels = _texts_and_labels(layout, table)

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

    details = [table.describe(), layout.describe() + table.describe_header()]
    # Legal CSV, but also what an unmatched quote makes: say where.
    spanning = [first for first, last, _ in table.rows if last > first]
    if spanning:
        details.append(
            f"{_count(len(spanning), 'row')} with quoted line breaks, starting on "
            f"{_lines(spanning)}"
        )
    details.append(_skipped(blank))
    return LabeledTexts(texts, labels, class_names, _summary(path, labels, class_names, details))


class _Columns:
    """Which fields of a table's rows are the text and the label.

    Args:
        layout: The file's `_Layout`.
        rows: Its non-blank rows, `(first_line, last_line, fields)`.
        header: Whether the first row names the columns.
        text_column, label_column: Checked names or indexes.

    Attributes:
        rows: The data rows (the header row removed).
        text, label: 0-based indexes.
        width: The number of fields every row must have.
        width_from: Which row set `width`, as a message says it.
        names: The header's names, or None.
        header_line: The header's line, or None.
    """

    def __init__(self, layout, rows, header, text_column, label_column):
        path = layout.path
        requested = (("text_column", text_column), ("label_column", label_column))
        if header:
            self.header_line, _, fields = rows[0]
            self.names = [name.strip() for name in fields]
            self.rows = rows[1:]
            self.text, self.label = (
                _header_index(layout, self.header_line, self.names, argument, column)
                for argument, column in requested
            )
            if self.text == self.label:
                raise DataFormatError(
                    path, self.header_line, f"expected text_column={text_column!r} and "
                    f"label_column={label_column!r} to be two columns; both are "
                    f"{self.column(self.text)}",
                )
            if not self.rows:
                raise DataFormatError(path, None, "the file has a header but no data rows")
            self.width = len(self.names)
            self.width_from = f"the header (line {self.header_line})"
            return
        self.header_line, self.names, self.rows = None, None, rows
        first_line, _, fields = rows[0]
        self.width = len(fields)
        self.width_from = f"the first row (line {first_line})"
        for argument, column in requested:
            if column >= self.width:
                raise DataFormatError(
                    path, first_line,
                    f"{argument}={column} is past the end of the first row, which has "
                    f"{_count(self.width, 'field')} (0-based indexes 0 to {self.width - 1}); "
                    f"{layout.describe()}. {layout.how_to_change()}",
                )
        self.text, self.label = text_column, label_column

    def column(self, index):
        """A column as a message shows it: by name and index, or by index."""
        if self.names is None:
            return f"column {index}"
        return f"column {self.names[index]!r} ({index})"

    def describe(self):
        used = f"text from {self.column(self.text)}, label from {self.column(self.label)}"
        ignored = [i for i in range(self.width) if i not in (self.text, self.label)]
        if ignored:
            used += ", ignored " + ", ".join(self.column(i) for i in ignored)
        return used

    def describe_header(self):
        return ", no header" if self.header_line is None else f", header on line {self.header_line}"


def _texts_and_labels(layout, table):
    """`(texts, [(line, label), ...])` of `table`'s rows, each checked: the
    right number of fields, a label, a text."""
    texts, labels = [], []
    for first, last, fields in table.rows:
        excerpt = layout.excerpt(first, last)
        if len(fields) != table.width:
            raise DataFormatError(
                layout.path, first,
                f"expected {table.width} fields separated by {_separated_by(layout.delimiter)} "
                f"like {table.width_from}; got {len(fields)} in {excerpt}"
                f"{layout.multiline_note(first, last)}; "
                f"{layout.describe()}. {layout.how_to_change()}",
            )
        label = fields[table.label].strip()
        if not label:
            raise DataFormatError(
                layout.path, first,
                f"expected a label in {table.column(table.label)}; got an empty field in {excerpt}",
            )
        text = fields[table.text]
        if not text.strip():
            raise DataFormatError(
                layout.path, first,
                f"expected a text in {table.column(table.text)}; got an empty field in {excerpt}",
            )
        texts.append(text)
        labels.append((first, label))
    return texts, labels


class _Layout:
    """How a table file is being read, for parsing and for the messages
    that say so.

    Args:
        path: The file.
        lines: Its `(line_number, text)` pairs.
        delimiter: The field separator.
        how: How the delimiter was chosen ("given", "sniffed (...)", ...).
        quoting: "none" or "csv".
    """

    def __init__(self, path, lines, delimiter, how, quoting):
        self.path, self.lines = path, lines
        self.delimiter, self.how, self.quoting = delimiter, how, quoting

    def describe(self):
        return (
            f"read with delimiter {_show(self.delimiter)} ({self.how}) "
            f"and quoting {self.quoting!r}"
        )

    def how_to_change(self):
        other_delimiter = "comma" if self.delimiter == "\t" else "tab"
        other_quoting = "csv" if self.quoting == "none" else "none"
        return (
            f"To read it otherwise pass delimiter= (a character, or tab, comma, "
            f"semicolon, pipe) or quoting={other_quoting!r}; when training, "
            f"--set data.delimiter={other_delimiter} or --set data.quoting={other_quoting}"
        )

    def excerpt(self, first, last, limit=60):
        """Lines `first..last` as they appear in a message, shortened."""
        text = "\n".join(line for _, line in self.lines[first - 1:last])
        return repr(text if len(text) <= limit else text[:limit] + "...")

    def multiline_note(self, first, last):
        if last == first:
            return ""
        return (
            f" (the row runs from line {first} to line {last}: a quoted field "
            f'holds line breaks; is a " unmatched?)'
        )


def _read_rows(layout):
    """`(rows, blank)`: the non-blank rows as `(first_line, last_line,
    fields)`, and the line numbers of blank rows."""
    if layout.quoting == "none":
        options = {"quoting": csv.QUOTE_NONE}
    else:
        # strict: a quoted field still open at the end of the file, or text
        # after a closing quote, is an error rather than a silent guess.
        options = {"quoting": csv.QUOTE_MINIMAL, "strict": True}
    # Each line gets its end back so that a quoted field keeps its line
    # breaks; `line_num` then counts the file's own lines.
    reader = csv.reader(
        (text + "\n" for _, text in layout.lines), delimiter=layout.delimiter, **options
    )
    rows, blank = [], []
    while True:
        first = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            if str(error) == "unexpected end of data":
                raise DataFormatError(
                    layout.path, first,
                    f'a quoted field opened on this line ({layout.excerpt(first, first)}) '
                    f'is still open at the end of the file (line {reader.line_num}). '
                    f'In CSV a field starting with " runs to the next lone "; close '
                    f'it, write a quote inside one as "", or read quotes as text '
                    f"with quoting='none' (--set data.quoting=none when training)",
                ) from None
            if str(error).startswith("new-line character"):
                # The csv module's advice (open the file differently) does
                # not apply: lines were already split at \n.
                error = "a carriage return (\\r) inside the line, outside quotes"
            raise DataFormatError(
                layout.path, reader.line_num,
                f"expected fields separated by {_separated_by(layout.delimiter)} with quoting "
                f"{layout.quoting!r}; got a malformed row ({error}) in "
                f"{layout.excerpt(reader.line_num, reader.line_num)}. {layout.how_to_change()}",
            ) from None
        if any(field.strip() for field in fields):
            rows.append((first, reader.line_num, fields))
        else:
            blank.append(first)
    return rows, blank


def _sniff_delimiter(path, lines):
    """`(delimiter, how)`: tab or comma, whichever is on every one of the
    first non-blank lines; the file name or a guess breaks a tie."""
    sample = [text for _, text in lines if text.strip()][:SNIFF_LINES]
    tab = all("\t" in text for text in sample)
    comma = all("," in text for text in sample)
    where = (
        "the only non-blank line" if len(sample) == 1
        else f"every one of the first {len(sample)} non-blank lines"
    )
    if tab != comma:
        found = "tab" if tab else "comma"
        return ("\t" if tab else ","), f"sniffed: a {found} is on {where}"
    tie = (
        f"tabs and commas are both on {where}"
        if tab else f"neither a tab nor a comma is on {where}"
    )
    suffix = pathlib.PurePath(str(path)).suffix.lower()
    by_name = {".tsv": "\t", ".tab": "\t", ".csv": ","}.get(suffix)
    if by_name:
        return by_name, f"from the {suffix} file name; {tie}"
    # Texts hold commas far more often than tabs.
    return ("\t" if tab else ","), f"guessed: {tie}"


def _check_column(argument, column, header):
    if isinstance(column, int) and not isinstance(column, bool) and column >= 0:
        return column
    if header and isinstance(column, str) and column.strip():
        return column.strip()
    if header:
        expected = "a column name from the header (a str) or a 0-based column index (an int >= 0)"
    else:
        expected = (
            "a 0-based column index (an int >= 0) when the file has no header "
            "(there are no column names to match)"
        )
    raise DataArgumentError(argument, column, expected)


def _check_delimiter(delimiter):
    if delimiter is None:
        return None
    if isinstance(delimiter, str):
        character = DELIMITER_NAMES.get(delimiter.lower(), delimiter)
        if len(character) == 1 and character not in '\r\n"':
            return character
    raise DataArgumentError(
        "delimiter", delimiter, "one character other than a quote or a line break "
        f"(e.g. ',' or ';'), one of the names {sorted(DELIMITER_NAMES)}, or None to "
        "sniff it from the file"
    )


def _check_class_names(class_names):
    if class_names is None:
        return None
    expected = "a list of distinct, non-empty labels as they appear in the file, or None"
    if not isinstance(class_names, (list, tuple)):
        raise DataArgumentError("class_names", class_names, expected)
    names = []
    for name in class_names:
        # YAML reads `[0, 1]` as ints; a file's labels are text.
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not name.strip():
            raise DataArgumentError("class_names", class_names, expected)
        names.append(name.strip())
    if len(set(names)) != len(names):
        raise DataArgumentError("class_names", class_names, expected)
    return names


def _header_index(layout, line, names, argument, column):
    """The 0-based index of `column` (a name or an index) among the
    header's `names` (stripped of spaces)."""
    if isinstance(column, int):
        if column >= len(names):
            raise DataFormatError(
                layout.path, line,
                f"{argument}={column} is past the end of the header, which has "
                f"{_count(len(names), 'column')} {names}; {layout.describe()}. "
                f"{layout.how_to_change()}",
            )
        return column
    matches = [i for i, name in enumerate(names) if name == column]
    if not matches:
        raise DataFormatError(
            layout.path, line,
            f"expected a column named {column!r} ({argument}) in the header; got "
            f"{names} ({layout.describe()}). If the file has no header row, "
            f"pass header=False and 0-based column indexes (when training: "
            f"--set data.header=false --set data.text_column=1 --set data.label_column=0)",
        )
    if len(matches) > 1:
        raise DataFormatError(
            layout.path, line,
            f"expected one column named {column!r} ({argument}) in the header; got "
            f"{len(matches)} (columns {matches}): pick one by its 0-based index",
        )
    return matches[0]


def _show(delimiter):
    return "tab" if delimiter == "\t" else repr(delimiter)


def _separated_by(delimiter):
    return "tabs" if delimiter == "\t" else repr(delimiter)


def _count(number, noun, plural=None):
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _without_final_newline(lines):
    """`lines` less the empty piece after a file's last line end, which is
    not a blank line of the file."""
    return lines[:-1] if len(lines) > 1 and lines[-1][1] == "" else lines


def _lines(numbers):
    """"line 3" or "lines 3, 5, ...", at most `SHOWN` of them."""
    shown = ", ".join(str(number) for number in numbers[:SHOWN])
    more = ", ..." if len(numbers) > SHOWN else ""
    return f"{'line' if len(numbers) == 1 else 'lines'} {shown}{more}"


def _skipped(blank):
    if not blank:
        return "nothing skipped"
    return f"skipped {_count(len(blank), 'blank line')} ({_lines(blank)})"


def _summary(path, labels, class_names, details):
    """One line: the file, its examples, its classes with counts, `details`."""
    counts = collections.Counter(labels)
    classes = ", ".join(f"{name} {counts[i]}" for i, name in enumerate(class_names[:SHOWN]))
    if len(class_names) > SHOWN:
        classes += f", ... ({len(class_names) - SHOWN} more)"
    return (
        f"Read {path}: {_count(len(labels), 'example')} in "
        f"{_count(len(class_names), 'class', 'classes')} ({classes}); " + "; ".join(details)
    )

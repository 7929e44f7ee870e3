"""The errors a data loader raises: `DataFormatError` for a bad file (where,
and what was expected there), `DataArgumentError` for a bad way of reading
one (which argument, what it must be, what it was)."""


class DataFormatError(ValueError):
    """A data file is not in the format its loader reads.

    The message names the file, the 1-based line number (when the fault is
    on a line), what the loader expected there, and what it found, e.g.

        data/sarcasm.json, line 17: expected a JSON object with "headline"
        and "is_sarcastic"; got invalid JSON (Expecting ',' delimiter)

    Attributes:
        path: The file.
        line: 1-based line number, or None for a fault of the whole file.
        problem: What was wrong.
    """

    def __init__(self, path, line, problem):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {problem}")


class DataArgumentError(ValueError):
    """A loader argument that cannot say how to read a file, e.g.

        Argument `text_column` must be a 0-based column index (an int >= 0)
        when the file has no header. Received: text_column='text'

    The attributes let a caller that took the value from elsewhere (a
    training config's `data.text_column`) name it in its own terms.

    Attributes:
        argument: The loader's argument name.
        value: The value received.
        expected: What the argument must be, as a phrase.
    """

    def __init__(self, argument, value, expected):
        self.argument = argument
        self.value = value
        self.expected = expected
        super().__init__(
            f"Argument `{argument}` must be {expected}. Received: {argument}={value!r}"
        )


def read_text_lines(path):
    """Yields `(line_number, line)` of a UTF-8 text file, without line ends.

    Accepts LF and CRLF line ends and a UTF-8 byte-order mark. Raises
    `DataFormatError` naming the line of any invalid UTF-8, and for an empty
    file; `FileNotFoundError` names a missing one.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise DataFormatError(path, None, "the file is empty")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataFormatError(
                path, number,
                f"expected UTF-8 text; byte {error.start + 1} of the line is "
                f"not valid UTF-8 ({line[error.start:error.start + 1]!r})",
            ) from None
        yield number, text.rstrip("\r")

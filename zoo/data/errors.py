"""The one error a data loader raises for a bad file: where, and what was
expected there."""


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

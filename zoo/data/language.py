"""Text for language models: a file read as one stream, split by position.

A language model learns from a stream of text (char-rnn's `input.txt`,
nanoGPT's `shakespeare_char`, WikiText for AWD-LSTM). The validation split
is the stream's tail, not a random sample of lines: neighbouring lines of a
play share speakers and words, so lines drawn at random would put near
copies of the validation text into training. The cut falls at a line start.
"""

from zoo.data.errors import read_text_lines
from zoo.data.split import check_fraction


def load_text(path):
    """The whole of a UTF-8 text file as one string, line ends as "\\n".

    Raises:
        DataFormatError: the file is empty, or not UTF-8 (naming the line).
        FileNotFoundError: there is no such file.
    """
    return "\n".join(line for _, line in read_text_lines(path))


def split_text(text, validation_fraction):
    """`(train, validation)`: the text before and after a cut near its end.

    The cut is at `1 - validation_fraction` of the characters, moved on to
    the start of the next line (unless no line starts after it), so that
    the validation text begins with a whole line.

    Args:
        text: The stream.
        validation_fraction: Float in (0, 1), the share of characters held
            out.
    """
    check_fraction(validation_fraction)
    cut = round(len(text) * (1.0 - validation_fraction))
    line_start = text.find("\n", cut)
    if 0 <= line_start < len(text) - 1:
        cut = line_start + 1
    return text[:cut], text[cut:]

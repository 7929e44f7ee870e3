"""zoo.data.language: a text file as one stream, its tail held out."""

import pytest

from zoo.data.errors import DataFormatError
from zoo.data.language import load_text, split_text


def test_load_text_joins_lines_with_line_feeds(tmp_path):
    path = tmp_path / "play.txt"
    path.write_bytes(b"ROMEO:\r\nBut soft!\r\n")
    assert load_text(path) == "ROMEO:\nBut soft!\n"


def test_load_text_names_the_line_that_is_not_utf8(tmp_path):
    path = tmp_path / "play.txt"
    path.write_bytes(b"ROMEO:\nBut \xff soft\n")
    with pytest.raises(DataFormatError, match="play.txt, line 2: expected UTF-8"):
        load_text(path)


def test_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(DataFormatError, match="empty"):
        load_text(path)


def test_the_validation_text_is_the_tail_from_a_line_start():
    text = "".join(f"line {i}\n" for i in range(100))
    train, validation = split_text(text, 0.1)
    assert train + validation == text
    assert validation.startswith("line ") and train.endswith("\n")
    assert 0.08 < len(validation) / len(text) <= 0.1


def test_a_text_of_one_line_is_cut_where_the_fraction_says():
    train, validation = split_text("abcdefghij", 0.2)
    assert (train, validation) == ("abcdefgh", "ij")


@pytest.mark.parametrize("fraction", [0, 1, -0.1, "0.1"])
def test_bad_fractions_are_named(fraction):
    with pytest.raises(ValueError, match=f"validation_fraction={fraction!r}"):
        split_text("abc\n", fraction)

"""The ManyThings/Tatoeba loader, the grouped split and the download fallback.

Every file here is written by the test; none comes from the real data set.
"""

import random

import keras
import pytest

from zoo.data import translation
from zoo.data.download import DataUnavailableError
from zoo.data.errors import DataFormatError
from zoo.data.translation import (
    group_by_source,
    load_translation_pairs,
    normalize_source,
    split_translation_pairs,
)

ROWS = [("Go.", "Ve."), ("Go.", "Vete."), ("Who?", "¿Quién?"), ("Wow!", "¡Órale!")]
ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)"


def write(tmp_path, content, name="spa.txt"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def tsv(rows, extra=(), line_end="\n"):
    return "".join("\t".join((*row, *extra)) + line_end for row in rows)


def test_two_and_three_column_files_give_the_same_pairs(tmp_path):
    two = load_translation_pairs(write(tmp_path, tsv(ROWS), "two.txt"))
    three = load_translation_pairs(
        write(tmp_path, tsv(ROWS, extra=(ATTRIBUTION,)), "three.txt")
    )
    # Default direction: Spanish (column 1) -> English (column 0).
    expected = [(spanish, english) for english, spanish in ROWS]
    assert two == expected
    assert three == expected


def test_direction_follows_the_columns(tmp_path):
    path = write(tmp_path, tsv(ROWS))
    assert load_translation_pairs(path, source_column=0, target_column=1) == ROWS


def test_crlf_bom_padding_spaces_and_trailing_blank_lines(tmp_path):
    content = (
        b"\xef\xbb\xbf"
        + tsv(ROWS, extra=(ATTRIBUTION,), line_end="\r\n").encode()
        + b" Hi. \t Hola. \r\n\r\n\n  \n"
    )
    pairs = load_translation_pairs(write(tmp_path, content))
    assert pairs[0] == ("Ve.", "Go.")  # no BOM left in the first sentence
    assert pairs[-1] == ("Hola.", "Hi.")  # no \r, no surrounding spaces
    assert len(pairs) == len(ROWS) + 1


@pytest.mark.parametrize(
    "content, line, words",
    [
        (tsv(ROWS[:2]) + "Hello there\n" + tsv(ROWS[2:]), 3, "no tab"),
        (tsv(ROWS[:1]) + "Hi.\t   \n", 2, "empty source"),
        ("\tHola.\n", 1, "empty target"),
        (tsv(ROWS[:3]) + "a\tb\tc\td\n", 4, "4 tab-separated columns"),
        (tsv(ROWS[:1]) + "\n" + tsv(ROWS[1:2]), 2, "blank line before more"),
        (tsv(ROWS[:1]).encode() + b"Hi.\tHol\xe1.\n", 2, "not valid UTF-8"),
    ],
    ids=["no-tab", "empty-source", "empty-target", "four-columns",
         "inner-blank-line", "invalid-utf8"],
)
def test_malformed_lines_name_the_file_and_line(tmp_path, content, line, words):
    path = write(tmp_path, content)
    with pytest.raises(DataFormatError) as raised:
        load_translation_pairs(path)
    error = raised.value
    assert error.line == line
    assert str(error).startswith(f"{path}, line {line}: ")
    assert words in str(error)


def test_empty_file_and_missing_file(tmp_path):
    path = write(tmp_path, "\n\n")
    with pytest.raises(DataFormatError, match="the file is empty") as raised:
        load_translation_pairs(path)
    assert raised.value.line is None and str(path) in str(raised.value)
    with pytest.raises(FileNotFoundError):
        load_translation_pairs(tmp_path / "absent.txt")


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"source_column": 2}, "source_column=2"),
        ({"target_column": True}, "target_column=True"),
        ({"source_column": 0}, "source_column=0, target_column=0"),
    ],
)
def test_bad_columns_are_named(tmp_path, kwargs, received):
    with pytest.raises(ValueError, match=received):
        load_translation_pairs(write(tmp_path, tsv(ROWS)), **kwargs)


def many_pairs(sources=400, per_source=3):
    """Sources with several translations each, as in Tatoeba."""
    return [
        (f"Frase número {i}.", f"Sentence {i}, version {j}.")
        for i in range(sources)
        for j in range(per_source)
    ]


def test_split_groups_translations_of_one_source():
    pairs = many_pairs()
    # Spellings that normalize alike belong to the same source.
    pairs += [("  FRASE   número 7. ", "Another one.")]
    train, validation = split_translation_pairs(pairs, 0.25, seed=3)
    train_keys = {normalize_source(s) for s, _ in train}
    validation_keys = {normalize_source(s) for s, _ in validation}
    assert not train_keys & validation_keys
    assert sorted(train + validation) == sorted(pairs)
    # About a quarter of the sources are held out.
    assert 0.18 < len(validation_keys) / 400 < 0.32


def test_split_is_deterministic_and_independent_of_order():
    pairs = many_pairs(200, 2)
    train, validation = split_translation_pairs(pairs, 0.3, seed=11)
    shuffled = pairs[:]
    random.Random(0).shuffle(shuffled)
    train_s, validation_s = split_translation_pairs(shuffled, 0.3, seed=11)
    assert set(train_s) == set(train) and set(validation_s) == set(validation)
    # Each side keeps its input order.
    assert validation_s == [p for p in shuffled if p in set(validation)]
    # A different seed draws a different split.
    _, other = split_translation_pairs(pairs, 0.3, seed=12)
    assert set(other) != set(validation)


def test_split_is_stable_across_processes_and_versions():
    # Golden sides: a change of hash (or Python's salted hash()) fails here,
    # which would move sentences between the splits of released models.
    pairs = [(f"Frase {i}.", f"Sentence {i}.") for i in range(20)]
    _, validation = split_translation_pairs(pairs, 0.3, seed=1337)
    assert [s for s, _ in validation] == [
        "Frase 3.", "Frase 8.", "Frase 14.", "Frase 15.", "Frase 17.",
        "Frase 18.",
    ]
    _, validation = split_translation_pairs(pairs, 0.3, seed=7)
    assert [s for s, _ in validation] == [
        "Frase 3.", "Frase 10.", "Frase 16.", "Frase 19.",
    ]


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"validation_fraction": 0}, "validation_fraction=0"),
        ({"validation_fraction": 1.0}, "validation_fraction=1.0"),
        ({"validation_fraction": -0.1}, "validation_fraction=-0.1"),
        ({"validation_fraction": True}, "validation_fraction=True"),
        ({"validation_fraction": "0.1"}, "validation_fraction='0.1'"),
        ({"seed": 1.5}, "seed=1.5"),
    ],
)
def test_split_arguments_are_checked(kwargs, received):
    with pytest.raises(ValueError, match=received):
        split_translation_pairs(ROWS, **kwargs)


def test_split_rejects_elements_that_are_not_pairs():
    with pytest.raises(ValueError, match="'just a sentence'"):
        split_translation_pairs([("a", "b"), "just a sentence"])


def test_group_by_source_gathers_every_reference():
    pairs = [("Ve.", "Go."), ("Hola.", "Hi."), ("ve. ", "Leave."), ("Hola.", "Hello.")]
    sources, references = group_by_source(pairs)
    assert sources == ["Ve.", "Hola."]
    assert references == [["Go.", "Leave."], ["Hi.", "Hello."]]


def test_download_failure_says_where_to_get_the_file(monkeypatch):
    calls = []

    def offline(**kwargs):
        calls.append(kwargs)
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataUnavailableError) as raised:
        translation.default_translation_path()
    message = str(raised.value)
    assert "http://www.manythings.org/anki/spa-eng.zip" in message
    assert "--data PATH/spa.txt" in message
    assert "network is unreachable" in message
    assert calls[0]["origin"] == "http://www.manythings.org/anki/spa-eng.zip"
    assert calls[0]["extract"] is True


def test_download_success_returns_the_extracted_file(monkeypatch, tmp_path):
    extracted = tmp_path / "spa-eng_extracted" / "spa-eng"
    extracted.mkdir(parents=True)
    (extracted / "_about.txt").write_text("about\n")
    write(extracted, tsv(ROWS, extra=(ATTRIBUTION,)))
    monkeypatch.setattr(
        keras.utils, "get_file", lambda **kwargs: str(tmp_path / "spa-eng_extracted")
    )
    path = translation.default_translation_path()
    assert path == str(extracted / "spa.txt")
    assert load_translation_pairs(path)[2] == ("¿Quién?", "Who?")


def test_extracted_download_without_the_file_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(keras.utils, "get_file", lambda **kwargs: str(tmp_path))
    with pytest.raises(DataUnavailableError, match="holds no spa.txt"):
        translation.default_translation_path()

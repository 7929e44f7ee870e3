"""Sentence pairs for translation: the ManyThings/Tatoeba files, a grouped split.

The ManyThings Anki files (http://www.manythings.org/anki/, sentences from
Tatoeba) hold one pair per line,

    English<TAB>Other language[<TAB>attribution]

UTF-8, LF or CRLF line ends; newer downloads add the third column (a
CC-BY attribution), which the loader accepts and ignores. The zoo's default
direction is Spanish -> English: the source is column 1, the target column 0.

Tatoeba holds many translations of the same sentence ("¿En serio?" ->
"Really?", "Seriously?", "No kidding?"). A random row split would put some
of them in training and others in validation, so the model would be
validated on source sentences it was trained on. `split_translation_pairs` therefore splits by source
sentence: every pair of one (normalized) source lands on the same side,
chosen by a stable hash of the seed and the sentence, so the split does not
depend on the order of the file, and a pair keeps its side when the file
grows.
"""

import unicodedata

from zoo.data.download import fetch
from zoo.data.errors import DataFormatError, read_text_lines
from zoo.data.split import check_fraction, split_by_key

# The English-Spanish file of the Keras translation tutorial.
MANYTHINGS_SPANISH_URL = "http://www.manythings.org/anki/spa-eng.zip"
MANYTHINGS_SPANISH_FILE = "spa.txt"
_LAYOUT = "`English<TAB>Other` or `English<TAB>Other<TAB>attribution`"


def load_translation_pairs(path, source_column=1, target_column=0):
    """Reads a ManyThings/Tatoeba file into `(source, target)` pairs.

    Each line is `English<TAB>Other`, optionally followed by `<TAB>` and an
    attribution, which is ignored. Surrounding whitespace of each sentence
    is stripped. Blank lines at the end of the file are ignored; any other
    malformed line stops the whole load (nothing is returned half-read).

    Args:
        path: The file (e.g. `spa.txt`).
        source_column: 0 or 1, the column of the source sentence. The
            default 1 translates from the other language (Spanish) into
            English.
        target_column: 0 or 1, the column of the target sentence; must
            differ from `source_column`.

    Returns:
        A list of `(source, target)` string pairs, in file order.

    Raises:
        DataFormatError: naming the file and the line: invalid UTF-8, an
            empty file, a line without a tab, with more than three columns,
            with an empty sentence, or a blank line followed by more data.
        FileNotFoundError: the file does not exist.
        ValueError: bad `source_column` / `target_column`.

    Example:

    >>> pairs = load_translation_pairs("spa.txt")  # doctest: +SKIP
    >>> pairs[0]  # doctest: +SKIP
    ('Ve.', 'Go.')
    """
    for name, value in (
        ("source_column", source_column),
        ("target_column", target_column),
    ):
        if isinstance(value, bool) or value not in (0, 1):
            raise ValueError(
                f"Argument `{name}` must be 0 (English) or 1 (the other "
                f"language). Received: {name}={value!r}"
            )
    if source_column == target_column:
        raise ValueError(
            "Arguments `source_column` and `target_column` must differ. "
            f"Received: source_column={source_column!r}, "
            f"target_column={target_column!r}"
        )

    pairs = []
    first_blank = None  # a blank line is fine only if nothing follows it
    for number, line in read_text_lines(path):
        if not line.strip():
            first_blank = first_blank or number
            continue
        if first_blank is not None:
            raise DataFormatError(
                path, first_blank,
                f"expected {_LAYOUT}; got a blank line before more data "
                f"(line {number})",
            )
        columns = line.split("\t")
        if len(columns) < 2:
            raise DataFormatError(
                path, number,
                f"expected {_LAYOUT}; got no tab in {_excerpt(line)}",
            )
        if len(columns) > 3:
            raise DataFormatError(
                path, number,
                f"expected {_LAYOUT}; got {len(columns)} tab-separated "
                f"columns in {_excerpt(line)}",
            )
        fields = (columns[0].strip(), columns[1].strip())
        roles = ((source_column, "source"), (target_column, "target"))
        for column, role in roles:
            if not fields[column]:
                raise DataFormatError(
                    path, number,
                    f"expected {_LAYOUT}; got an empty {role} sentence "
                    f"(column {column + 1}) in {_excerpt(line)}",
                )
        pairs.append((fields[source_column], fields[target_column]))
    return pairs


def _excerpt(line, limit=60):
    """The line as it appears in an error message, shortened."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


def normalize_source(sentence):
    """The key that groups pairs by source: NFC, case-folded, spaces collapsed.

    "Ve." and " ve. " are one source sentence for the split and for the
    evaluation references.
    """
    return " ".join(unicodedata.normalize("NFC", sentence).casefold().split())


def split_translation_pairs(pairs, validation_fraction=0.1, seed=1337):
    """Splits pairs into training and validation, grouped by source sentence.

    All pairs whose sources normalize alike (`normalize_source`) land on the
    same side, decided by a SHA-256 hash of `(seed, normalized source)`
    (`zoo.data.split`, as for the other data sets; not Python's salted
    `hash()`): a source goes to validation when the hash, read as a number
    in [0, 1), is below `validation_fraction`. The side of a pair therefore depends only
    on its source sentence and the seed, never on the order of `pairs` or
    on the other pairs; within each side pairs keep their input order. The
    validation share is `validation_fraction` of the distinct sources in
    expectation (of pairs only approximately, as groups differ in size),
    and a very small input can leave a side empty.

    Args:
        pairs: A sequence of `(source, target)` string pairs.
        validation_fraction: Float in (0, 1), the expected share of source
            sentences held out for validation.
        seed: Integer; a different seed draws a different split.

    Returns:
        `(train, validation)`, two lists of pairs.

    Example:

    >>> pairs = [("Ve.", "Go."), ("Vete.", "Go."), ("Hola.", "Hi.")]
    >>> train, validation = split_translation_pairs(pairs, 0.5, seed=0)
    >>> sorted(train + validation) == sorted(pairs)
    True
    """
    check_fraction(validation_fraction)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(
            f"Argument `seed` must be an integer. Received: seed={seed!r}"
        )
    checked = []
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(
                "Argument `pairs` must hold (source, target) pairs. "
                f"Received an element: {pair!r}"
            )
        checked.append(tuple(pair))
    return split_by_key(
        checked, lambda pair: normalize_source(pair[0]), validation_fraction, seed
    )


def group_by_source(pairs):
    """Gathers the targets of each source sentence: the evaluation references.

    Tatoeba often has several correct translations of one sentence; BLEU and
    chrF should count a hypothesis that matches any of them. Sources are
    grouped as in the split (`normalize_source`).

    Args:
        pairs: A sequence of `(source, target)` pairs.

    Returns:
        `(sources, references)`: the distinct sources (first spelling seen,
        in first-seen order) and, for each, the list of its targets.

    Example:

    >>> group_by_source([("Ve.", "Go."), ("Hola.", "Hi."), ("ve.", "Leave.")])
    (['Ve.', 'Hola.'], [['Go.', 'Leave.'], ['Hi.']])
    """
    groups = {}
    for source, target in pairs:
        groups.setdefault(normalize_source(source), (source, []))[1].append(
            target
        )
    sources = [source for source, _ in groups.values()]
    references = [targets for _, targets in groups.values()]
    return sources, references


def default_translation_path():
    """The English-Spanish file from ManyThings, downloaded once and cached.

    What a command-line tool uses when the user passes no `--data`. The
    download goes to Keras's cache (`~/.keras/datasets/rnn_zoo/`) and is
    unpacked there.

    Returns:
        The local path of `spa.txt`.

    Raises:
        zoo.data.download.DataUnavailableError: offline, or the address
            failed (manythings.org refuses some automated clients); the
            message says where to download the file by hand and to pass it
            with `--data PATH/spa.txt`.
    """
    return fetch(
        "English-Spanish (ManyThings/Tatoeba)",
        MANYTHINGS_SPANISH_URL,
        MANYTHINGS_SPANISH_FILE,
        f"--data PATH/{MANYTHINGS_SPANISH_FILE}",
        extract=True,
    )

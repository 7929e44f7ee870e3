"""Interpretable cells: which memory cell of a character model tracks what.

`python -m zoo.diagnostics.cells MODEL [--text FILE] [--characters N] [--out DIR]`

Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding Recurrent
Networks" (2015, Section 4.3 and Figure 2), found single cells of character
LSTMs that track the text's structure: one is on inside quotes, one counts
the characters of a line, one follows bracket depth in code. They found them
by looking; this module looks automatically. It reads a text through a
character `TextLanguageModel` (the state carried from each chunk of the text
to the next, so the result is one pass over the whole text), keeps every
layer's memory at every character (the LSTM family's and sLSTM's `c`, the
1997 LSTM's `s_c`, the GRU's and the min-cells' `h`), computes simple
properties of the text (`text_properties`), and reports, per property, the
cells whose values correlate with it most (Pearson's r over the characters),
then colours the text by the best cell's value as the paper's Figure 2
does: `cells.json`, `cells.html` and a PNG per property.

Every series, the cells' and the properties', is read "after the character":
the value of a cell at a character is its state once it has read that
character, and a property there is what holds once it has been read (an
opening quote is inside the quotation, a closing one outside).
"""

import argparse
import json
import pathlib
import re
import time
from typing import NamedTuple

import keras
import numpy as np

import zoo.pretrained
from zoo.diagnostics.cells_render import excerpt, render_html, render_png
from zoo.diagnostics.trace import trace_layer
from zoo.models.language_model_preprocessor import UNK_ID, TextLanguageModel

DEFAULT_TEXT = (pathlib.Path(__file__).resolve().parents[3]
                / "shared" / "data" / "language" / "tinyshakespeare.txt")
MIN_CHARACTERS = 100
# The memory of each cell family, by the names its `step` records: the
# LSTM family's and sLSTM's c, the 1997 LSTM's CEC s_c, else the state h
# (GRU, minGRU, minLSTM, mLSTM, most classic cells).
MEMORY_NAMES = ("c", "s_c", "h")

PROPERTIES = {
    "in_quotes": "1 inside a quotation: between double quotes, or single quotes used as "
                 "quotation marks (not apostrophes: mid-word, or elisions as 'tis, 'twas); "
                 "a blank line ends an open quotation (a single quote never closed was an "
                 "apostrophe: 'leges)",
    "line_position": "characters since the last line break (0 at the line break)",
    "in_brackets": "1 inside (), [] or {} (one nesting depth for the three)",
    "word_start": "1 at the first letter of a word",
    "word_position": "characters read so far of the word (1 at its first letter, 0 outside words)",
    "speaker_line": "1 on a speaker's line: a blank line before it, up to four capitalised "
                    "words, ending with ':' (\"ROMEO:\", \"First Citizen:\")",
    "sentence_end": "1 at '.', '!' or '?'",
    "vowel": "1 at a vowel (a, e, i, o, u, either case)",
}
# Words a leading apostrophe shortens: their "'" opens no quotation.
ELISIONS = {"tis", "twas", "twere", "twill", "twould", "twixt", "tween", "gainst",
            "em", "mongst", "bout", "scape", "fore", "d", "ll", "s", "t"}
SPEAKER = re.compile(r"[A-Z][A-Za-z'-]*(?: [A-Z][A-Za-z'-]*){0,3}:")
LETTERS = re.compile(r"[A-Za-z]*")


def text_properties(text):
    """Simple properties of a text, one value per character (`PROPERTIES`).

    Args:
        text: A string.

    Returns:
        `{name: (len(text),) float64}`, in `PROPERTIES`' order.
    """
    n = len(text)
    out = {name: np.zeros(n) for name in PROPERTIES}
    speaker = np.zeros(n)
    start, previous_blank = 0, True
    for line in text.split("\n"):  # speaker lines, then every character
        if previous_blank and SPEAKER.fullmatch(line):
            speaker[start:start + len(line)] = 1
        start, previous_blank = start + len(line) + 1, line == ""
    out["speaker_line"] = speaker
    out["in_quotes"] = _quotations(text)
    depth, line, word = 0, 0, 0
    for t, char in enumerate(text):
        before = text[t - 1] if t else ""
        after = text[t + 1] if t + 1 < n else ""
        in_word = char.isalpha() or (char == "'" and before.isalpha() and after.isalpha())
        word = word + 1 if in_word else 0
        line = 0 if char == "\n" else line + 1
        depth = depth + 1 if char in "([{" else max(depth - (char in ")]}"), 0)
        out["line_position"][t] = line
        out["in_brackets"][t] = depth > 0
        out["word_start"][t] = char.isalpha() and word == 1
        out["word_position"][t] = word
        out["sentence_end"][t] = char in ".!?"
        out["vowel"][t] = char.lower() in "aeiou"
    return out


def _quotations(text):
    """1 inside a quotation (`PROPERTIES["in_quotes"]`), from its opening
    mark (included) to its closing one (excluded)."""
    inside = np.zeros(len(text))
    quote, opened = None, 0
    for t, char in enumerate(text):
        before = text[t - 1] if t else ""
        after = text[t + 1] if t + 1 < len(text) else ""
        if char == "\n" and before == "\n":
            if quote == "'":  # never closed: its "'" was an apostrophe ('leges)
                inside[opened:t] = 0
            quote = None  # a blank line ends any quotation
        elif char == '"' and quote != "'":
            quote, opened = (None, opened) if quote else ('"', t)
        elif char == "'" and quote == "'" and before.strip() and not after.isalpha():
            quote = None
        elif char == "'" and quote is None and not before.isalnum() and after.isalpha():
            following = LETTERS.match(text, t + 1).group().lower()
            quote, opened = (None if following in ELISIONS else "'"), t
        inside[t] = quote is not None
    if quote == "'":
        inside[opened:] = 0
    return inside


class CellStates(NamedTuple):
    """Every memory cell's value at every character.

    values: `(characters, cells)` float32. labels: one `(layer, quantity,
    unit)` per column, e.g. `("recurrent_0", "h", 17)`.
    """

    values: np.ndarray
    labels: list


def memory_name(names):
    """The memory among a cell's recorded names: c, else s_c, else h (else
    the first name)."""
    names = list(names)
    return next((name for name in MEMORY_NAMES if name in names), names[0])


def cell_states(model, text, chunk=2000):
    """Reads `text` through a character language model and keeps its memory.

    The text is read in chunks of `chunk` characters, each from the states
    the one before left (one pass, memory bounded by the chunk).

    Args:
        model: A character `TextLanguageModel`.
        text: A string (characters outside the vocabulary read as [UNK]).
        chunk: Positive integer, characters per step of the pass.

    Returns:
        A `CellStates`: every layer's memory (`memory_name`), all units.
    """
    language_model = model.language_model
    ids = model.tokenizer.encode(text)
    states = language_model.initial_states(1)
    names = {}  # layer -> its memory's name, learnt as the first chunk is read

    def read(chunk_ids, states):
        x = language_model.embedding(chunk_ids)
        memories, finals = [], []
        for layer, layer_states in zip(language_model.recurrent, states):
            x, _, final, activations = trace_layer(layer, x, None, list(layer_states))
            (recorded,) = activations.values()  # a language model reads forward only
            names[layer.name] = memory_name(recorded)
            memories.append(recorded[names[layer.name]][0])
            finals.append(final)
        return memories, finals

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        read = tf.function(read, reduce_retracing=True)  # a graph: ~10x faster
    parts = []
    for start in range(0, len(ids), chunk):
        memories, states = read(ids[None, start:start + chunk], states)
        parts.append(np.concatenate([keras.ops.convert_to_numpy(m) for m in memories], -1))
    labels = [(layer.name, names[layer.name], unit) for layer in language_model.recurrent
              for unit in range(layer.cell.units)]
    return CellStates(np.concatenate(parts).astype("float32"), labels)


def correlations(values, series):
    """Pearson's r of each column of `values` `(T, N)` with `series` `(T,)`;
    None if `series` is constant, 0 for a constant column."""
    series = np.asarray(series, "float64") - np.mean(series)
    if not np.any(series):
        return None
    centred = np.asarray(values, "float64") - np.mean(values, axis=0)
    norms = np.linalg.norm(centred, axis=0) * np.linalg.norm(series)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = centred.T @ series / norms
    return np.where(norms > 0, r, 0.0)


def best_cells(states, properties, top=3):
    """The cells that correlate most with each property (Pearson's |r|).

    Args:
        states: A `CellStates`.
        properties: `{name: (characters,) series}` (`text_properties`).
        top: How many cells to keep per property.

    Returns:
        `{name: {"absent": bool, "cells": [{"layer", "quantity", "unit",
        "correlation"}, ...]}}`, the cells by falling |r|; "absent" (and no
        cells) when the series is constant: the text has no such thing.
    """
    result = {}
    for name, series in properties.items():
        r = correlations(states.values, series)
        if r is None:
            result[name] = {"absent": True, "cells": []}
            continue
        order = np.argsort(-np.abs(r), kind="stable")[:top]
        result[name] = {"absent": False, "cells": [
            {"layer": states.labels[k][0], "quantity": states.labels[k][1],
             "unit": int(states.labels[k][2]), "correlation": float(r[k])} for k in order]}
    return result


def load_model(argument):
    """The character `TextLanguageModel` MODEL names: a shipped model's name,
    a training run directory (holding `model.keras`) or a `.keras` file."""
    model = zoo.pretrained.load_argument(argument)
    if not isinstance(model, TextLanguageModel):
        raise ValueError(f"MODEL must be a character language model. Received: MODEL="
                         f"{argument!r}, a {type(model).__name__} {model.name!r}")
    if model.tokenizer.level != "char":
        raise ValueError("MODEL must be a character language model (cells per character). "
                         f"Received: MODEL={argument!r}, a {model.tokenizer.level}-level one")
    return model


def read_text(path, characters):
    """The last `characters` of the file, from the first line start among
    them (so that line positions are right); `(text, description)`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--text: no such file. Received: --text={str(path)!r}")
    whole = path.read_text(encoding="utf-8")
    text = whole[-characters:]
    if len(text) < len(whole) and "\n" in text[:-1]:
        text = text[text.index("\n") + 1:]
    if len(text) < MIN_CHARACTERS:
        raise ValueError(f"--text must hold at least {MIN_CHARACTERS} characters. "
                         f"Received: {len(text)} characters in --text={str(path)!r}")
    if len(text) == len(whole):
        return text, f"all {len(text):,} characters of {path}"
    return text, f"the last {len(text):,} characters of {path} (from a line start)"


def main(argv=None):
    """The command: finds the cells, prints the table, writes the files."""
    parser = argparse.ArgumentParser(
        prog="python -m zoo.diagnostics.cells",
        description="Find the memory cells of a character language model that track "
                    "quotes, line length, brackets... (Karpathy et al. 2015).")
    parser.add_argument("model", metavar="MODEL",
                        help="a shipped model's name, a run directory or a .keras file")
    parser.add_argument("--text", help=f"a UTF-8 text (default: {DEFAULT_TEXT}, if present)")
    parser.add_argument("--characters", type=int, default=20_000,
                        help="read the text's last N characters")
    parser.add_argument("--chunk", type=int, default=2000, help="characters per step")
    parser.add_argument("--shown", type=int, default=400, help="characters per picture")
    parser.add_argument("--out", help="folder for the files (default: diagnostics/cells-MODEL)")
    args = parser.parse_args(argv)
    for name in ("characters", "chunk", "shown"):
        if getattr(args, name) < (MIN_CHARACTERS if name == "characters" else 1):
            parser.error(f"--{name} must be at least "
                         f"{MIN_CHARACTERS if name == 'characters' else 1}. "
                         f"Received: --{name}={getattr(args, name)}")
    if args.text is None and not DEFAULT_TEXT.is_file():
        parser.error(f"--text FILE is needed: the default text {DEFAULT_TEXT} is not here")
    try:
        text, source = read_text(args.text or DEFAULT_TEXT, args.characters)
        model = load_model(args.model)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    out = pathlib.Path(args.out or f"diagnostics/cells-{pathlib.Path(args.model).stem}")
    out.mkdir(parents=True, exist_ok=True)
    unknown = int(np.sum(model.tokenizer.encode(text) == UNK_ID))
    source = source if args.text else f"the default text (--text FILE for another), {source}"
    print(f"text: {source}; {unknown} characters outside the vocabulary (read as [UNK])")
    started = time.time()
    states = cell_states(model, text, args.chunk)
    print(f"read {len(text):,} characters in chunks of {args.chunk}, the state carried "
          f"across chunks, in {time.time() - started:.0f} s: {states.values.shape[1]} cells")
    properties = text_properties(text)
    found = best_cells(states, properties)
    print(table(found))
    sections, files = [], []
    for name, entry in found.items():
        if entry["absent"]:
            continue
        best = entry["cells"][0]
        column = states.labels.index((best["layer"], best["quantity"], best["unit"]))
        start, end = excerpt(text, properties[name], args.shown)
        title = (f"{name}: {best['layer']} unit {best['unit']} ({best['quantity']}), "
                 f"r = {best['correlation']:+.2f}")
        values = states.values[start:end, column]
        sections.append((title, PROPERTIES[name], text[start:end], values))
        render_png(title, text[start:end], values, out / f"cells-{name}.png")
        files.append(out / f"cells-{name}.png")
        entry["excerpt"] = [start, end]
    render_html(sections, out / "cells.html", f"Cells of {args.model}: red high, blue low")
    report = {"model": args.model, "text": source, "characters": len(text),
              "unknown_characters": unknown, "chunk": args.chunk, "state_carried": True,
              "descriptions": PROPERTIES, "properties": found}
    (out / "cells.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for path in [out / "cells.json", out / "cells.html", *files]:
        print(f"wrote {path}")


def table(found):
    """The printed table: the best cell and the top three per property."""
    lines = [f"{'property':<14} {'layer':<13} {'unit':>5} {'memory':<6} {'r':>6}  "
             "top 3 (layer/unit r)"]
    for name, entry in found.items():
        if entry["absent"]:
            lines.append(f"{name:<14} absent: constant on this text")
            continue
        best = entry["cells"][0]
        top = ", ".join(f"{c['layer']}/{c['unit']} {c['correlation']:+.2f}"
                        for c in entry["cells"])
        lines.append(f"{name:<14} {best['layer']:<13} {best['unit']:>5} {best['quantity']:<6} "
                     f"{best['correlation']:>+6.2f}  {top}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

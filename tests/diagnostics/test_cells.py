"""`python -m zoo.diagnostics.cells`: the cells of a character model that
track the text (Karpathy, Johnson & Fei-Fei 2015), found automatically."""

import json

import keras
import numpy as np
import pytest

from zoo.diagnostics import cells
from zoo.diagnostics.cells_render import colours, excerpt
from zoo.models.language_model import LanguageModel
from zoo.models.language_model_preprocessor import LanguageModelTokenizer, TextLanguageModel

pytestmark = pytest.mark.tensorflow_only

# Brackets never nested, so "inside brackets" is the bracket depth; "<" and
# "&" for the HTML; no quotation marks, so "in_quotes" is absent.
TEXT = "".join(
    f"ROMEO:\nI say (to thee) {k} <good> & (now), and more{'.?!'[k % 3]}\n"
    f"Were it (as {k}) so, then\nbe it done.\n\n"
    for k in range(8)
)
COUNTER_UNIT = 2


def bracket_counter_model():
    """A character LSTM whose unit 2 counts open brackets, weights by hand:
    its input and forget gates are held open (bias 20: σ = 1 in float32),
    its block input z = tanh(±20 one-hot) is +1 at '(' and -1 at ')' and 0
    elsewhere, so c_t = c_{t-1} + z_t is the bracket depth. The other three
    units keep their random weights."""
    tokenizer = LanguageModelTokenizer("char")
    tokenizer.adapt(TEXT)
    vocabulary = tokenizer.vocabulary
    size, units = len(vocabulary), 4
    model = LanguageModel(size, cell="lstm", units=units, num_layers=1, embedding_dim=size)
    model.embedding.set_weights([np.eye(size, dtype="float32")])  # one-hot inputs
    kernel, recurrent, bias = model.recurrent[0].cell.get_weights()
    i, f, z, o = (gate * units + COUNTER_UNIT for gate in range(4))  # blocks [i, f, z, o]
    for column in (i, f, z, o):
        kernel[:, column] = recurrent[:, column] = bias[column] = 0.0
    bias[i] = bias[f] = 20.0
    kernel[vocabulary.index("("), z] = 20.0
    kernel[vocabulary.index(")"), z] = -20.0
    model.recurrent[0].cell.set_weights([kernel, recurrent, bias])
    return TextLanguageModel(tokenizer, model)


def test_properties_of_small_strings_are_exact():
    found = cells.text_properties("say 'hi' (a [b])\nx.")
    expected = {
        "in_quotes":     [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "line_position": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 1, 2],
        "in_brackets":   [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        "word_start":    [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0],
        "word_position": [1, 2, 3, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0],
        "speaker_line":  [0] * 19,
        "sentence_end":  [0] * 18 + [1],
        "vowel":         [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    }
    assert list(found) == list(cells.PROPERTIES) == list(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(found[name], values, err_msg=name)


def test_apostrophes_double_quotes_and_speakers():
    quotes = cells.text_properties
    # Elisions and mid-word apostrophes open nothing; an unclosed "'" at a
    # paragraph's end was an apostrophe after all.
    assert not quotes("'Tis I'll, 'twas 'em\n").get("in_quotes").any()
    assert not quotes("he 'leges it\n\nno").get("in_quotes").any()
    np.testing.assert_array_equal(quotes('a "b\nc" d')["in_quotes"], [0, 0, 1, 1, 1, 1, 0, 0, 0])
    speaker = quotes("ROMEO:\nCome:\n\nFirst Citizen:\nI found the effect of love:\n")
    lines = ["ROMEO:", "Come:", "", "First Citizen:", "I found the effect of love:"]
    marked = [bool(speaker["speaker_line"][sum(len(l) + 1 for l in lines[:k])])
              for k, line in enumerate(lines) if line]
    # "Come:" follows no blank line; the verse line has lowercase words.
    assert marked == [True, False, True, False]


def test_best_cells_ranks_by_absolute_correlation_and_says_absent():
    rng = np.random.default_rng(0)
    on = (np.arange(200) % 7 < 3).astype("float64")
    values = np.stack([rng.normal(size=200), on + 0.3 * rng.normal(size=200),
                       -on + 0.05 * rng.normal(size=200), np.full(200, 0.5)], 1)
    states = cells.CellStates(values, [("recurrent_0", "c", k) for k in range(4)])
    found = cells.best_cells(states, {"on": on, "none": np.zeros(200)}, top=4)
    assert found["none"] == {"absent": True, "cells": []}
    ranked = found["on"]["cells"]
    assert [c["unit"] for c in ranked][:3] == [2, 1, 0]
    assert ranked[0]["correlation"] < -0.99 and ranked[1]["correlation"] > 0.8
    assert ranked[3] == {"layer": "recurrent_0", "quantity": "c", "unit": 3, "correlation": 0.0}


def test_the_hand_made_bracket_cell_is_found_with_the_state_carried_across_chunks():
    model = bracket_counter_model()
    whole = cells.cell_states(model, TEXT, chunk=len(TEXT))
    chunked = cells.cell_states(model, TEXT, chunk=7)  # brackets straddle chunks
    np.testing.assert_allclose(chunked.values, whole.values, atol=1e-5)
    assert whole.values.shape == (len(TEXT), 4)
    assert whole.labels == [("recurrent_0", "c", k) for k in range(4)]  # an LSTM's memory: c
    depth = cells.text_properties(TEXT)["in_brackets"]
    np.testing.assert_allclose(whole.values[:, COUNTER_UNIT], depth, atol=1e-5)
    best = cells.best_cells(whole, {"in_brackets": depth})["in_brackets"]["cells"][0]
    assert (best["layer"], best["quantity"], best["unit"]) == ("recurrent_0", "c", COUNTER_UNIT)
    assert best["correlation"] > 0.999


def test_the_memory_of_each_family():
    assert cells.memory_name(["i", "f", "z", "o", "c", "y"]) == "c"
    assert cells.memory_name(["y_in", "y_out", "g", "s_c", "y_c"]) == "s_c"
    assert cells.memory_name(["z", "r", "h_tilde", "h"]) == "h"
    assert cells.memory_name(["a", "b", "h"]) == "h"


def test_colours_and_excerpt():
    np.testing.assert_allclose(colours([0.0, 2.0, -1.0])[0], [1, 1, 1])
    assert colours([0.0, 2.0, -1.0])[1][0] > 0.6 > colours([0.0, 2.0, -1.0])[1][2]  # red
    assert colours([0.0, 2.0, -1.0])[2][2] > colours([0.0, 2.0, -1.0])[2][0]  # blue
    text = "aaaa\n" * 20 + "b(b)\n" + "aaaa\n" * 20
    start, end = excerpt(text, cells.text_properties(text)["in_brackets"], 10)
    assert end - start == 10 and "(" in text[start:end] and text[start - 1] == "\n"


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_command_writes_json_html_and_png(tmp_path, text_file, capsys, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    bracket_counter_model().save(run / "model.keras")
    monkeypatch.chdir(tmp_path)  # the default --out is relative
    cells.main([str(run), "--text", str(text_file), "--chunk", "50", "--shown", "120"])
    printed = capsys.readouterr().out
    out = tmp_path / "diagnostics" / "cells-run"
    assert f"all {len(TEXT):,} characters of {text_file}" in printed
    assert "in_quotes      absent" in printed
    report = json.loads((out / "cells.json").read_text())
    brackets = report["properties"]["in_brackets"]
    assert brackets["cells"][0]["unit"] == COUNTER_UNIT
    assert brackets["cells"][0]["correlation"] > 0.999 and len(brackets["cells"]) == 3
    assert report["properties"]["in_quotes"]["absent"] is True
    assert report["characters"] == len(TEXT) and report["state_carried"] is True
    page = (out / "cells.html").read_text()
    assert "&lt;</span>" in page and "&amp;</span>" in page and "&gt;</span>" in page
    assert "<good>" not in page and ">&<" not in page and "><<" not in page
    assert page.count("<h2") == len(cells.PROPERTIES) - 1  # not the absent one
    png = (out / "cells-in_brackets.png").read_bytes()
    assert png.startswith(b"\x89PNG") and not (out / "cells-in_quotes.png").exists()
    for name in ("cells.json", "cells.html", "cells-in_brackets.png"):
        assert f"wrote diagnostics/cells-run/{name}" in printed


def small_model(level):
    tokenizer = LanguageModelTokenizer(level)
    tokenizer.adapt(TEXT)
    network = LanguageModel(tokenizer.vocabulary_size, cell="gru", units=4, num_layers=1,
                            embedding_dim=3)
    return TextLanguageModel(tokenizer, network)


def test_a_gru_s_memory_is_h(tmp_path, text_file, capsys):
    small_model("char").save(tmp_path / "gru.keras")
    cells.main([str(tmp_path / "gru.keras"), "--text", str(text_file), "--out",
                str(tmp_path / "out")])
    report = json.loads((tmp_path / "out" / "cells.json").read_text())
    assert report["properties"]["vowel"]["cells"][0]["quantity"] == "h"


@pytest.mark.parametrize("case", ["unknown name", "word level", "not a language model",
                                  "no .keras file", "run without model", "missing text",
                                  "short text", "few characters"])
def test_bad_inputs_are_named(case, tmp_path, text_file, capsys):
    model, text, message = str(tmp_path / "model.keras"), str(text_file), None
    if case == "unknown name":
        model, message = "no_such_model", "MODEL='no_such_model'"
    elif case == "word level":
        small_model("word").save(model)
        message = f"MODEL={model!r}, a word-level one"
    elif case == "not a language model":
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="dense_net").save(model)
        message = f"MODEL={model!r}, a Sequential 'dense_net'"
    elif case == "no .keras file":
        message = "model.keras: no such .keras file"
    elif case == "run without model":
        model, message = str(tmp_path), f"MODEL={str(tmp_path)!r} is a directory without"
    elif case == "missing text":
        text = str(tmp_path / "none.txt")
        message = f"--text: no such file. Received: --text={text!r}"
    elif case == "short text":
        text_file.write_text("ROMEO:\nshort\n")
        message = f"at least 100 characters. Received: 13 characters in --text={text!r}"
    extra = ["--characters", "5"] if case == "few characters" else []
    if case == "few characters":
        message = "--characters must be at least 100. Received: --characters=5"
    with pytest.raises(SystemExit):
        cells.main([model, "--text", text, "--out", str(tmp_path / "out"), *extra])
    assert message in capsys.readouterr().err

"""`python -m zoo.diagnostics.gates`: the heatmaps, and which units keep the first words."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.diagnostics import gates as gates_cli
from zoo.pretrained import default_base

pytestmark = pytest.mark.tensorflow_only

HEADLINE = "area man wins argument with toaster"


def lstm_values(f, i, z, o=None):
    """One text's LSTM quantities `(T, units)`, c computed from the equations."""
    f, i, z = (np.asarray(a, "float32") for a in (f, i, z))
    c = np.zeros_like(f)
    for t in range(len(f)):
        c[t] = (c[t - 1] if t else 0) * f[t] + i[t] * z[t]
    o = np.full_like(f, 0.5) if o is None else np.asarray(o, "float32")
    return {"i": i, "f": f, "z": z, "o": o, "c": c, "y": o * np.tanh(c)}


def test_what_the_first_word_wrote_is_kept_by_the_product_of_forget_gates():
    # Unit 0 never forgets; unit 1 halves its memory at every later word.
    values = lstm_values(f=[[0.0, 0.0], [1.0, 0.5], [1.0, 0.5]],
                         i=[[1.0, 1.0], [0.0, 0.0], [0.2, 1.0]],
                         z=[[0.5, 0.8], [0.3, 0.3], [0.5, 0.2]])
    held = gates_cli.first_words_held(values, count=3)
    assert [row["unit"] for row in held] == [0, 1]
    unit0, unit1 = held
    assert unit0["written"] == pytest.approx(0.5) and unit0["kept"] == pytest.approx(1.0)
    assert unit0["held"] == pytest.approx(0.5)
    # c_T = 0.5 (word 0) + 0.1 (word 2): word 0 is 5/6 of the memory
    assert unit0["share"] == pytest.approx(0.5 / 0.6)
    assert unit0["memory"] == pytest.approx(values["c"][-1, 0])
    assert unit1["kept"] == pytest.approx(0.25) and unit1["held"] == pytest.approx(0.2)
    assert unit1["shown"] == pytest.approx(0.5)


def test_padding_is_not_read_and_backward_reads_from_the_end():
    values = lstm_values(f=[[0.9], [0.1], [0.0]], i=[[1.0], [1.0], [0.0]], z=[[1.0], [0.5], [0.0]])
    # Two real tokens: the third row is padding and must not count.
    forward = gates_cli.first_words_held(values, count=2)[0]
    assert forward["kept"] == pytest.approx(0.1) and forward["held"] == pytest.approx(0.1)
    # Read backward, the first word is token 1 (wrote 0.5), last is token 0.
    backward = gates_cli.first_words_held(values, count=2, backward=True)[0]
    assert backward["written"] == pytest.approx(0.5)
    assert backward["kept"] == pytest.approx(0.9)


def test_each_family_has_its_memory_and_a_matrix_memory_has_none():
    z = np.array([[0.2], [0.6]], "float32")
    h_tilde = np.array([[1.0], [-1.0]], "float32")
    h = np.array([[0.8], [0.6 * 0.8 - 0.4]], "float32")
    gru = gates_cli.first_words_held({"z": z, "r": z, "h_tilde": h_tilde, "h": h}, count=2)[0]
    # The GRU writes (1 - z) h̃ and keeps z: 0.8 kept at 0.6
    assert (gru["written"], gru["kept"]) == (pytest.approx(0.8), pytest.approx(0.6))
    assert gru["shown"] is None
    # The 1997 CEC keeps everything; one input gate per block of 2 cells.
    original = {"y_in": np.array([[0.5], [0.1]], "float32"),
                "y_out": np.array([[0.3], [0.9]], "float32"),
                "g": np.array([[1.0, -2.0], [1.0, 1.0]], "float32")}
    original["s_c"] = np.cumsum(np.repeat(original["y_in"], 2, -1) * original["g"], axis=0)
    rows = gates_cli.first_words_held(original, count=2)
    assert [r["unit"] for r in rows] == [1, 0]
    assert rows[0]["held"] == pytest.approx(-1.0) and rows[0]["kept"] == 1.0
    assert rows[0]["shown"] == pytest.approx(0.9)
    mlstm = {name: np.ones((2, 1), "float32") for name in ("i", "f", "o", "n", "h")}
    assert gates_cli.first_words_held(mlstm, count=2) is None


def test_the_command_draws_and_tells_for_a_shipped_model(tmp_path, capsys):
    out = tmp_path / "gates.png"
    assert gates_cli.main(["sarcasm_original_lstm", HEADLINE, "--out", str(out),
                           "--units", "8"]) == 0
    printed = capsys.readouterr().out
    assert out.stat().st_size > 20_000 and out.read_bytes()[:4] == b"\x89PNG"
    assert "bidirectional_0 forward: of 'area' (read first) at 'toaster' (read last)" in printed
    assert "bidirectional_0 backward: of 'toaster' (read first) at 'area' (read last)" in printed
    assert printed.count("share of memory") == 2


def test_a_saved_model_gives_what_the_keras_file_gives():
    name = "sarcasm_gru"
    model_dir = default_base() / name
    version = max((p for p in model_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    from_saved_model = gates_cli.load_gates(str(version), [HEADLINE])
    from_keras = gates_cli.load_gates(name, [HEADLINE])
    assert from_saved_model.keys() == from_keras.keys()
    for key, value in from_keras.items():
        if value.dtype == object:
            assert from_saved_model[key].tolist() == value.tolist()
        else:
            np.testing.assert_allclose(from_saved_model[key], value, atol=1e-4)


def test_bad_arguments_are_named(tmp_path, capsys):
    class NoGates(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, text):
            return {"length": tf.strings.length(text)}

    module = NoGates()
    tf.saved_model.save(module, str(tmp_path / "plain"), signatures={"serving_default": module.serve})
    for argv, message in (
            (["no_such_model", HEADLINE], "Received: MODEL='no_such_model'"),
            ([str(tmp_path / "plain"), HEADLINE], "without a 'gates' signature"),
            (["sarcasm_gru", "   "], "TEXT must hold at least one word"),
            (["sarcasm_gru", HEADLINE, "--units", "0"], "Received: --units=0")):
        with pytest.raises(SystemExit) as stopped:
            gates_cli.main(argv)
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err

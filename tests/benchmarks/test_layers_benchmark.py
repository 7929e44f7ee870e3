"""`benchmarks/layers.py` runs and computes its ratios right; no timing is
asserted (the benchmark itself is where speed is measured)."""

import pytest

from benchmarks import layers

pytestmark = pytest.mark.tensorflow_only


def test_ratios_are_times_against_keras_and_torch_of_the_same_family():
    rows = [
        {"shape": "default", "layer": "keras LSTM", "inference_ms": 40.0, "train_ms": 100.0},
        {"shape": "default", "layer": "torch LSTM", "inference_ms": 20.0, "train_ms": 80.0},
        {"shape": "default", "layer": "zoo LSTM vanilla", "inference_ms": 30.0,
         "train_ms": 120.0},
        {"shape": "default", "layer": "keras GRU", "inference_ms": 10.0, "train_ms": 50.0},
        {"shape": "default", "layer": "zoo GRU", "inference_ms": 5.0, "train_ms": 100.0},
    ]
    by_layer = {row["layer"]: row for row in layers.with_ratios(rows)}
    assert by_layer["zoo LSTM vanilla"]["inference_vs_keras"] == 0.75
    assert by_layer["zoo LSTM vanilla"]["inference_vs_torch"] == 1.5
    assert by_layer["zoo LSTM vanilla"]["train_vs_torch"] == 1.5
    assert by_layer["zoo GRU"]["inference_vs_keras"] == 0.5
    assert by_layer["zoo GRU"]["train_vs_keras"] == 2.0
    assert "inference_vs_torch" not in by_layer["zoo GRU"]  # no torch GRU row


@pytest.mark.parametrize("layer", ["zoo GRU", "keras LSTM", "zoo OriginalLSTM"])
def test_a_worker_measures_a_layer(layer, monkeypatch):
    monkeypatch.setitem(layers.SHAPES, "tiny", (2, 3, 4, 5))
    measured = layers.measure(layer, "tiny", runs=2, threads=2)
    assert len(measured["inference_ms"]) == 2 and len(measured["train_ms"]) == 2
    assert all(t > 0 for t in measured["inference_ms"] + measured["train_ms"])
    assert measured["peak_mb"] >= 0


def test_a_compiled_training_row_traces_its_training_step_with_the_compiled_loop(monkeypatch):
    from zoo.layers import xla_loop

    calls = []
    compiled_loop = xla_loop.compiled_loop
    monkeypatch.setattr(xla_loop, "compiled_loop",
                        lambda *args: calls.append(1) or compiled_loop(*args))
    monkeypatch.setitem(layers.SHAPES, "tiny", (2, 3, 4, 5))
    layers.measure("zoo GRU", "tiny", runs=1, threads=2)
    traced_plain = len(calls)  # predict only
    layers.measure("zoo GRU xla", "tiny", runs=1, threads=2)
    assert traced_plain >= 1
    assert len(calls) - traced_plain > traced_plain  # predict and the training step


def test_revival_table_gives_speed_ups_over_the_compiled_gru_and_names_skipped_rows():
    rows = [
        {"shape": "long", "layer": "zoo GRU xla", "what": "GRU", "inference_ms": 10.0,
         "train_ms": 90.0, "peak_mb": 1.0},
        {"shape": "long", "layer": "zoo minGRU parallel", "what": "minGRU",
         "inference_ms": 2.0, "train_ms": 30.0, "peak_mb": 2.0},
        {"shape": "t10000", "layer": "zoo mLSTM parallel", "what": "mLSTM",
         "skipped": "too big"},
    ]
    lines = layers.revival_table(layers.with_ratios(rows)).splitlines()
    assert lines[3].split(" | ")[4] == "3.0"
    assert "not run: too big" in lines[4]


def test_each_suite_writes_its_own_section_and_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(layers, "DOCS", tmp_path / "benchmarks.md")
    family_rows = [{"shape": "default", "layer": "keras LSTM", "what": "keras.layers.LSTM",
                    "inference_ms": 1.0, "train_ms": 2.0, "peak_mb": 3.0}]
    revival_rows = [{"shape": "long", "layer": "zoo GRU xla", "what": "zoo GRU",
                     "inference_ms": 1.0, "train_ms": 2.0, "peak_mb": 3.0}]
    layers.write_docs("revival", revival_rows, "python -m benchmarks.layers --suite revival", 2)
    layers.write_docs("families", family_rows, "python -m benchmarks.layers", 2)
    layers.write_docs("revival", revival_rows, "python -m benchmarks.layers --suite revival", 1)
    text = layers.DOCS.read_text()
    families, revival = (text.index(layers.SUITES[s][2]) for s in ("families", "revival"))
    assert families < revival  # the suites' order, whatever order they ran in
    assert text.count("## ") == 2 and "keras.layers.LSTM" in text
    assert "1 threads" in text and "2 threads" in text

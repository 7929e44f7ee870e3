"""benchmarks.generation: what it times and how it counts (never the timings)."""

import pytest

from benchmarks import generation

pytestmark = pytest.mark.tensorflow_only


def test_a_row_counts_every_character_of_every_row():
    row = generation.row("SavedModel, in process", batch=8, length=1000, seconds=0.5)
    assert row["chars_per_second"] == 16000
    assert row["ms_per_step"] == 0.5  # one step makes a character for all 8 rows


def test_the_median_skips_the_warm_up_call():
    calls = []

    def call():
        calls.append(len(calls))

    assert generation.median_seconds(call, runs=3) >= 0
    assert calls == [0, 1, 2, 3]  # one warm-up, three timed


def test_a_call_refuses_a_short_continuation():
    class Short:
        def generate_text(self, prompts, *args, **kwargs):
            return ["x" * 3 for _ in prompts]

    with pytest.raises(AssertionError, match="short continuation"):
        generation.keras_call(Short(), batch=2, length=5)()


def test_the_table_lists_each_setting():
    rows = [generation.row("SavedModel, in process", 1, 250, 0.05),
            generation.row("REST, `python -m serving`", 1, 1000, 0.25)]
    text = generation.markdown(rows, "shakespeare_char_gru", False, "python -m benchmarks.generation")
    assert "| SavedModel, in process | 1 | 250 | 0.050 | 5,000 | 0.20 |" in text
    assert "| REST, `python -m serving` | 1 | 1,000 | 0.250 | 4,000 | 0.25 |" in text


def test_an_unknown_model_is_named(capsys):
    with pytest.raises(SystemExit):
        generation.main(["--model", "no_such_model"])
    assert "no shipped model 'no_such_model'" in capsys.readouterr().err

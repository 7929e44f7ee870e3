"""`python -m training.evaluate` on a run directory and on a SavedModel."""

import json

import pytest
import tensorflow as tf

from training import evaluate, evaluation, train

pytestmark = pytest.mark.tensorflow_only


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from tests.training.conftest import TINY_MODEL, write_table

    root = tmp_path_factory.mktemp("evaluate")
    config = root / "tiny.yaml"
    config.write_text(TINY_MODEL)
    data = write_table(root / "texts.csv")
    out = root / "run"
    assert train.main([str(config), "--data", str(data), "--out", str(out), "--epochs", "4"]) == 0
    return out, data


def test_run_directory_evaluation_scores_the_validation_split_by_default(
        trained_run, tmp_path, capsys):
    out, data = trained_run
    run_metrics = json.loads((out / "metrics.json").read_text())
    # No --data: the run's config.json names the file it trained on.
    assert evaluate.main([str(out), "--json", str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    assert (f"({run_metrics['examples']} examples: the validation split of {data}, "
            f"data.validation_fraction 0.25, data.split_seed 1337)") in printed
    assert "neutral" in printed
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["examples"] == run_metrics["examples"] < 300  # held-out rows only
    assert metrics["accuracy"] == pytest.approx(run_metrics["accuracy"])
    assert (metrics["split"], metrics["data"]) == ("validation", str(data))
    assert (metrics["validation_fraction"], metrics["split_seed"]) == (0.25, 1337)
    # --split all says that it scores training rows too.
    assert evaluate.main([str(out), "--data", str(data), "--split", "all",
                          "--json", str(tmp_path / "all.json")]) == 0
    assert f"(300 examples: all of {data}, training rows included)" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "all.json").read_text())
    assert metrics["examples"] == 300 and metrics["split"] == "all"
    assert "validation_fraction" not in metrics


def test_validation_split_recomputes_the_runs_validation_metrics(trained_run, tmp_path):
    out, data = trained_run
    run_metrics = json.loads((out / "metrics.json").read_text())
    metrics = evaluation.evaluate(out, data, split="validation")
    # The same held-out rows as training carved, scored by the same model.
    assert metrics["examples"] == run_metrics["examples"] < 300
    assert metrics["accuracy"] == pytest.approx(run_metrics["accuracy"])
    assert evaluate.main([str(out), "--data", str(data), "--split", "validation",
                          "--json", str(tmp_path / "v.json")]) == 0
    assert json.loads((tmp_path / "v.json").read_text())["examples"] == metrics["examples"]
    with pytest.raises(ValueError, match="split must be one of"):
        evaluation.evaluate(out, data, split="test")


def test_saved_model_evaluation_follows_the_class_names(trained_run, tmp_path):
    import keras

    out, data = trained_run
    model = keras.saving.load_model(out / "model.keras")

    class Exported(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            # Columns in another order than training's (bad, good, neutral).
            scores = tf.gather(self.model(text), [2, 0, 1], axis=1)
            names = tf.constant([["neutral", "bad", "good"]])
            return {"scores": scores, "classes": tf.tile(names, [tf.shape(text)[0], 1])}

    exported = Exported(model)
    tf.saved_model.save(exported, str(tmp_path / "1"), signatures={"serving_default": exported.serve})
    # A SavedModel does not know its run's split: --set states it.
    from_saved = evaluation.evaluate(
        tmp_path / "1", data, ["data.format=table", "data.validation_fraction=0.25"])
    from_run = evaluation.evaluate(out, data)
    assert from_saved["examples"] == from_run["examples"] < 300
    assert from_saved["accuracy"] == pytest.approx(from_run["accuracy"])


def test_bad_targets_are_named(tmp_path, trained_run, capsys):
    assert evaluate.main([str(tmp_path)]) == 2
    assert "neither a run directory" in capsys.readouterr().err
    out, _ = trained_run
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nsunny day,good\nx,unknown\n")
    assert evaluate.main([str(out), "--data", str(bad)]) == 2
    assert "line 3: expected a label in" in capsys.readouterr().err
    for fraction in ("0", "1", "-0.5"):
        assert evaluate.main([str(out), "--set", f"data.validation_fraction={fraction}"]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: data.validation_fraction must be a number between 0 "
                                "and 1, both excluded") and error.count("\n") == 1
        assert f"Received: {float(fraction)}" in error
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text((out / "config.json").read_text())
    assert evaluate.main([str(unfinished)]) == 2
    assert f"{unfinished} has no model.keras: the run has not finished" in capsys.readouterr().err
    (unfinished / "config.json").write_text('{"task": "classif')
    assert evaluate.main([str(unfinished)]) == 2
    assert f"{unfinished / 'config.json'} is truncated or corrupt" in capsys.readouterr().err


def test_translation_run_is_scored_with_bleu(tmp_path, capsys):
    from tests.training.conftest import NUMBERS, TINY_TRANSLATION

    config = tmp_path / "t.yaml"
    config.write_text(TINY_TRANSLATION)
    lines = [f"{NUMBERS[a]} and {NUMBERS[b]}.\t{a} y {b}."
             for a in sorted(NUMBERS) for b in sorted(NUMBERS) if a != b]
    data = tmp_path / "spa.txt"
    data.write_text("\n".join(lines * 8) + "\n")
    out = tmp_path / "run"
    assert train.main([str(config), "--data", str(data), "--out", str(out), "--epochs", "6"]) == 0
    capsys.readouterr()
    assert evaluate.main([str(out), "--data", str(data), "--split", "all",
                          "--json", str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    assert "distinct source sentences, of all of" in printed
    for row in ("greedy, one reference", "greedy, all references",
                "beam 2, α 0, one reference", "beam 2, α 0, all references"):
        assert row in printed
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["sentences"] == 20 and metrics["split"] == "all"
    # Each of the 20 sources has 8 identical pairs: one reference per pair
    # repeats it 8 times, all references once; the same targets, one BLEU.
    assert metrics["pairs"] == 160
    assert metrics["bleu_beam_one_ref"] == pytest.approx(metrics["bleu_beam_all_refs"], abs=1e-6)
    assert metrics["bleu"] == metrics["bleu_beam_one_ref"] > 20
    # Another beam and length penalty, from the command line.
    assert evaluate.main([str(out), "--data", str(data), "--split", "all", "--set",
                          "evaluation.beam_width=3", "--set", "evaluation.length_penalty=0.6",
                          "--json", str(tmp_path / "m3.json")]) == 0
    assert "beam 3, α 0.6, one reference" in capsys.readouterr().out
    wider = json.loads((tmp_path / "m3.json").read_text())
    assert (wider["beam_width"], wider["length_penalty"]) == (3, 0.6)
    assert wider["bleu_greedy_one_ref"] == metrics["bleu_greedy_one_ref"]
    held_out = evaluation.evaluate(out, data)
    # validation_fraction 0.2 of 20 source sentences, each with all its pairs.
    assert 0 < held_out["sentences"] < 20 and held_out["split"] == "validation"

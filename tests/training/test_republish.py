"""`python -m training.republish`: a published model's next version from its own files."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from training import export, republish, train

pytestmark = pytest.mark.tensorflow_only


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A tiny classifier exported once, its training run then deleted."""
    from tests.training.conftest import TINY_MODEL, write_table

    root = tmp_path_factory.mktemp("republish")
    (root / "tiny.yaml").write_text(TINY_MODEL)
    run_dir = root / "run"
    assert train.main([str(root / "tiny.yaml"), "--data", str(write_table(root / "texts.csv")),
                       "--out", str(run_dir)]) == 0
    assert export.main([str(run_dir), "--name", "tiny", "--base", str(root / "zoo")]) == 0
    shutil.rmtree(run_dir)
    return root / "zoo"


def copy_of(published, tmp_path):
    shutil.copytree(published, tmp_path / "zoo")
    return tmp_path / "zoo" / "tiny"


def scores(version_dir, texts):
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    return serve(text=tf.constant(texts))


def test_the_next_version_serves_the_same_model_and_the_card_follows(published, tmp_path,
                                                                     capsys):
    model_dir = copy_of(published, tmp_path)
    card_before = (model_dir / "README.md").read_text()
    config_before = (model_dir.parent / "models.config").read_text()
    assert republish.main([str(model_dir)]) == 0
    assert "as version 2" in capsys.readouterr().out
    texts = ["sunny alpha bravo", "stormy golf"]
    old, new = scores(model_dir / "1", texts), scores(model_dir / "2", texts)
    np.testing.assert_allclose(new["scores"].numpy(), old["scores"].numpy(), atol=1e-6)
    assert new["classes"].numpy().tolist() == old["classes"].numpy().tolist()
    assert "gates" in tf.saved_model.load(str(model_dir / "2")).signatures
    card = (model_dir / "README.md").read_text()
    assert "| SavedModel version | 2 (`tiny/2/`" in card
    assert "and `gates` (`text` -> `tokens`" in card
    # Everything else in the card is as it was: at most the version, the
    # size and the signatures lines moved.
    assert len(card.splitlines()) == len(card_before.splitlines())
    changed = [b for a, b in zip(card_before.splitlines(), card.splitlines()) if a != b]
    assert changed[0].startswith("| SavedModel version | 2")
    assert all(line.startswith(("| SavedModel version", "| size on disk", "`serving_default`"))
               for line in changed)
    assert (model_dir.parent / "models.config").read_text() == config_before


def test_replace_deletes_the_older_versions_once_the_new_one_is_in(published, tmp_path):
    model_dir = copy_of(published, tmp_path)
    assert republish.main([str(model_dir), "--replace"]) == 0
    assert sorted(p.name for p in model_dir.iterdir()) == ["2", "README.md", "tiny.keras"]


def test_a_failed_check_publishes_nothing_and_keeps_the_old_version(published, tmp_path,
                                                                    monkeypatch, capsys):
    from training import savedmodel

    model_dir = copy_of(published, tmp_path)

    def failing(*args):
        raise savedmodel.ExportError("check: pretend the scores differ")

    monkeypatch.setattr(savedmodel, "check_classifier", failing)
    assert republish.main([str(model_dir), "--replace"]) == 2
    assert "pretend the scores differ" in capsys.readouterr().err
    assert sorted(p.name for p in model_dir.iterdir()) == ["1", "README.md", "tiny.keras"]


@pytest.mark.parametrize("problem, message", [
    ("no keras file", "tiny.keras is missing"),
    ("no version", "holds no numbered version"),
    ("a card of another shape", "the model card's version, size or signatures line"),
])
def test_what_cannot_be_republished_is_named(problem, message, published, tmp_path, capsys):
    model_dir = copy_of(published, tmp_path)
    if problem == "no keras file":
        (model_dir / "tiny.keras").unlink()
    elif problem == "no version":
        shutil.rmtree(model_dir / "1")
    else:
        (model_dir / "README.md").write_text("# tiny\n\nA card written by hand.\n")
    assert republish.main([str(model_dir)]) == 2
    assert message in capsys.readouterr().err
    assert not (model_dir / "2").exists()

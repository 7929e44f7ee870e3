"""`python -m training.check_export`: an export run as TF Serving runs it, in a
process that never imports `zoo`, from any working directory."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.test_dependency_rule import imported_packages

pytestmark = pytest.mark.tensorflow_only

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_check_export_imports_only_tensorflow_and_the_standard_library():
    # `python -m` imports the `training` package first: it must stay empty.
    allowed = {"argparse", "json", "sys", "tensorflow"}
    for path in (ROOT / "training" / "check_export.py", ROOT / "training" / "__init__.py"):
        imported = {name for name, _ in imported_packages(path)}
        assert imported <= allowed, f"{path.name} imports {sorted(imported - allowed)}"


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """A SavedModel whose `serving_default` maps `text` to its lengths."""
    import tensorflow as tf

    class Lengths(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"length": tf.strings.length(text, unit="UTF8_CHAR")}

    module = Lengths()
    export_dir = tmp_path_factory.mktemp("tiny") / "1"
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})
    return export_dir


def test_the_check_runs_from_any_working_directory(tiny_export, tmp_path, monkeypatch):
    from training.savedmodel import run_check_process

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "training").mkdir(parents=True)  # a `training` that must not shadow ours
    monkeypatch.chdir(elsewhere)
    relative = os.path.relpath(tiny_export, elsewhere)
    report = run_check_process(relative, ["héllo", "", "a b c"])
    assert report["methods"]["serving_default"] == "tensorflow/serving/predict"
    assert report["results"] == {"serving_default": {"length": [5, 0, 5]}}


def check_command(export_dir, prelude="", request=None):
    """`python -m training.check_export EXPORT_DIR`, run from the repository
    root after `prelude` (Python code) ran in the same process."""
    code = ("import runpy, sys\n" + prelude +
            f"\nsys.argv = ['check_export', {str(export_dir)!r}]\n"
            "runpy.run_module('training.check_export', run_name='__main__', alter_sys=True)\n")
    return subprocess.run([sys.executable, "-c", code], input=json.dumps(request or {}),
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def test_the_check_runs_by_hand_with_a_default_request(tiny_export):
    run = subprocess.run([sys.executable, "-m", "training.check_export", str(tiny_export)],
                         input="", cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["results"]["serving_default"]["length"] == [22, 11]  # DEFAULT_TEXTS


def test_a_check_process_that_imported_zoo_fails(tiny_export):
    # Stands in for a SavedModel whose loading pulled in `zoo`.
    run = check_command(tiny_export, prelude="import types; sys.modules['zoo'] = "
                                              "types.ModuleType('zoo')")
    assert run.returncode == 1
    assert "imported zoo" in run.stderr
    assert run.stdout.strip() == ""

"""The command lines: arguments checked before TensorFlow, its start-up noise held back."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# absl's native log lines: "I0000 00:00:1796346701.591839 1331 cudart_stub.cc:31] ..."
NATIVE_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\]", re.MULTILINE)


def python(code, *args, env=None):
    environment = {**os.environ, **(env or {})}
    for name in ("ZOO_VERBOSE", "TF_CPP_MIN_LOG_LEVEL"):
        if name not in (env or {}):
            environment.pop(name, None)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_import_zoo_holds_back_tensorflows_native_start_up_log():
    quiet = python("import os, sys, zoo\nprint(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))\n"
                   "print('a warning of ours', file=sys.stderr)")
    assert quiet.returncode == 0, quiet.stderr
    assert not NATIVE_LOG_LINE.search(quiet.stderr), quiet.stderr
    assert "absl::InitializeLog" not in quiet.stderr
    assert "a warning of ours" in quiet.stderr
    # Nothing else changes: the log level stays TensorFlow's own (it sets 1).
    assert quiet.stdout.split() != ["2"]


def test_only_native_log_lines_are_dropped():
    from zoo.startup import without_native_log

    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to "
            "STDERR\n"
            "I0000 00:00:1796346701.591839    1331 cudart_stub.cc:31] Could not find cuda "
            "drivers on your machine, GPU will not be used.\n"
            "E0000 00:00:1796346715.776940    1331 cuda_platform.cc:52] failed call to cuInit\n"
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
            "TensorFlow with the appropriate compiler flags.\n"
            "/x/keras/src/y.py:3: UserWarning: something a user should see\n"
            "I0000 is not a log line\n")
    assert without_native_log(text) == (
        "/x/keras/src/y.py:3: UserWarning: something a user should see\nI0000 is not a log line\n")


def test_a_failing_import_shows_everything_held_back(tmp_path):
    (tmp_path / "tensorflow.py").write_text(
        "import os\nos.write(2, b'I0000 00:00:1.5  7 cudart_stub.cc:31] no libcudart\\n')\n"
        "raise ImportError('tensorflow is broken')\n")
    failed = python("import zoo", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
                                       "KERAS_BACKEND": "tensorflow"})
    assert failed.returncode == 1
    assert "cudart_stub.cc:31] no libcudart" in failed.stderr
    assert "ImportError: tensorflow is broken" in failed.stderr


def test_verbose_shows_the_native_log(monkeypatch, capfd):
    from zoo.startup import native_start_up_held_back, wants_verbose

    for value, verbose in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv("ZOO_VERBOSE", value)
        assert wants_verbose() is verbose
        with native_start_up_held_back():
            os.write(2, b"I0000 00:00:1.5  7 x.cc:1] native line\n")
            os.write(2, b"not a native line\n")
        err = capfd.readouterr().err
        assert ("x.cc:1] native line" in err) is verbose
        assert "not a native line" in err


@pytest.mark.parametrize("module, args, message", [
    ("serving", ["--port=8500", "--rest_api_port=8500"], "http_port cannot be same as grpc_port"),
    ("serving", ["--max_request_rows=0"], "--max_request_rows must be positive; got 0"),
    ("training.export", ["nowhere", "--name", "m"], "nowhere: no such run directory"),
    ("training.tune", ["sarcasm", "--max-trials", "0"], "--max-trials must be at least 1"),
    ("training.reproduce", ["1", "--rtrl", "--cell", "gru"],
     "--rtrl is the paper's on-line rule for its own cell; drop --cell gru"),
    ("training.reproduce", ["7"], "invalid choice: '7'"),
    ("training.train", ["no_such_entry"], "Unknown zoo entry 'no_such_entry'"),
    ("training.train", ["sarcasm_lstm", "--data", "nowhere.json"],
     "--data: the data file"),
    ("training.evaluate", ["nowhere"], "nowhere: no such run or SavedModel directory"),
    ("training.train", ["sarcasm_lstm", "--set", "model.unist=8"],
     "unknown key 'model.unist'"),
    ("training.train", ["sarcasm_lstm", "--set", "model.units=big"],
     "model.units must be int. Received: 'big'"),
    ("training.tune", ["sarcasm", "--set", "trainig.seed=1"], "unknown section 'trainig'"),
])
def test_argument_errors_come_before_tensorflow(module, args, message):
    """Each command's typo is reported without importing TensorFlow."""
    probe = ("import runpy, sys; sys.argv = [sys.argv[0], *sys.argv[1:]]\n"
             "try:\n"
             f"    runpy.run_module({module!r}, run_name='__main__')\n"
             "finally:\n"
             "    print(sorted({'tensorflow', 'keras'} & set(sys.modules)))\n")
    process = python(probe, *args)
    assert process.returncode == 2, process.stderr
    assert message in process.stderr
    assert process.stdout.strip() == "[]"


def test_tune_refuses_a_taken_project_and_a_missing_space_before_tensorflow(tmp_path):
    (tmp_path / "adding").mkdir()
    (tmp_path / "adding" / "oracle.json").write_text("{}")
    for args, message in (
        (["--directory", str(tmp_path)], "holds a search already: pass --resume"),
        (["--directory", str(tmp_path / "new"), "--resume"], "holds no search to continue"),
        (["--directory", str(tmp_path / "new"), "--space", str(tmp_path / "no.yaml")],
         "no.yaml: cannot be read (No such file or directory)"),
        (["--directory", str(tmp_path / "new"), "--config", "no_such_entry"],
         "Unknown zoo entry 'no_such_entry'"),
    ):
        probe = ("import sys; from training import tune; code = tune.main(sys.argv[1:]); "
                 "print(sorted({'tensorflow', 'keras'} & set(sys.modules))); sys.exit(code)")
        process = python(probe, "adding", *args)
        assert process.returncode == 2, process.stderr
        assert message in process.stderr
        assert process.stdout.strip() == "[]"


def test_a_training_command_quiets_tensorflow_unless_verbose(monkeypatch):
    from training.cli import import_tensorflow

    for name in ("ZOO_VERBOSE", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(name, "")  # so that the test's end restores them as they were
    for verbose, variable, level, expected in ((False, None, None, ("2", None)),
                                               (True, None, None, (None, "1")),
                                               (False, "1", None, (None, "1")),
                                               (False, None, "0", ("0", None))):
        for name, value in (("ZOO_VERBOSE", variable), ("TF_CPP_MIN_LOG_LEVEL", level)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        import_tensorflow(verbose)
        assert (os.environ.get("TF_CPP_MIN_LOG_LEVEL"), os.environ.get("ZOO_VERBOSE")) == expected

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


IMPORT = ("import os; from zoo.cli import import_tensorflow; import_tensorflow({}); "
          "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))")


def test_tensorflow_start_up_noise_is_held_back_unless_asked_for():
    quiet = python(IMPORT.format(""))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.split() == ["2"]
    assert not NATIVE_LOG_LINE.search(quiet.stderr), quiet.stderr
    assert "absl::InitializeLog" not in quiet.stderr
    # ZOO_VERBOSE=1 (like --verbose) leaves TensorFlow's own level (it sets 1 itself).
    verbose = python(IMPORT.format(""), env={"ZOO_VERBOSE": "1"})
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout.split() != ["2"]


def test_verbose_flag_and_variable(monkeypatch):
    from zoo.cli import wants_verbose

    monkeypatch.delenv("ZOO_VERBOSE", raising=False)
    assert wants_verbose(True) and not wants_verbose(False)
    for value, verbose in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv("ZOO_VERBOSE", value)
        assert wants_verbose(False) is verbose


def test_a_failing_import_shows_what_was_held_back(tmp_path):
    (tmp_path / "tensorflow.py").write_text(
        "import os\nos.write(2, b'native: libcudart.so not found\\n')\n"
        "raise ImportError('tensorflow is broken')\n")
    failed = python(IMPORT.format(""), env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert failed.returncode == 1
    assert "native: libcudart.so not found" in failed.stderr
    assert "ImportError: tensorflow is broken" in failed.stderr


@pytest.mark.parametrize("module, args, message", [
    ("zoo", ["--bogus"], "unrecognized arguments: --bogus"),
    ("serving", ["--port=8500", "--rest_api_port=8500"], "http_port cannot be same as grpc_port"),
    ("serving", ["--max_request_rows=0"], "--max_request_rows must be positive; got 0"),
    ("training.export", ["nowhere", "--name", "m"], "nowhere: no such run directory"),
    ("training.tune", ["sarcasm", "--max-trials", "0"], "--max-trials must be at least 1"),
    ("training.reproduce", ["1", "--rtrl", "--cell", "gru"],
     "--rtrl is the paper's on-line rule for its own cell; drop --cell gru"),
    ("training.reproduce", ["7"], "invalid choice: '7'"),
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

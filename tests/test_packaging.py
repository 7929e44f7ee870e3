"""What `pip install` says the project is: the library (`zoo`) alone, with
extras for the checkout's programs, and every import covered by its list."""

import ast
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {
    "yaml": "pyyaml",
    "keras_tuner": "keras-tuner",
    "tensorflow_serving": "tensorflow-serving-api",
    "google": "protobuf",
    "grpc": "grpcio",
    "prometheus_client": "prometheus-client",
}
# Imports a part may make without listing them, and why.
UNLISTED = {
    # Imported only when KERAS_BACKEND=jax, which brings its own jax.
    "jax": "backend",
    # zoo.compat checks keras-tuner's private API for training.tuning only
    # (a function that imports it when called from there).
    "keras_tuner@zoo": "compat",
}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_names(*files):
    names = set()
    for name in files:
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                names.add(re.split(r"[\[<>=~!; ]", line, maxsplit=1)[0].lower())
    return names


def third_party_imports(folder):
    """Top-level module names `folder`'s code imports, at any depth."""
    local = {p.name for p in ROOT.iterdir() if p.is_dir()} | {"__future__"}
    names = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def uncovered(folder, listed):
    return sorted(
        name for name in third_party_imports(folder)
        if DISTRIBUTIONS.get(name, name).replace("_", "-") not in listed
        and name not in UNLISTED and f"{name}@{folder}" not in UNLISTED
    )


def test_only_the_library_is_installed_and_the_extras_are_declared():
    project = pyproject()
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["zoo*"]
    dynamic = project["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"]["file"] == ["requirements.txt"]
    extras = dynamic["optional-dependencies"]
    assert extras["train"]["file"] == ["requirements-train.txt"]
    assert extras["serve"]["file"] == ["requirements-serve.txt"]
    # dev is everything: both extras and the test suite's own.
    assert set(extras["dev"]["file"]) == {
        "requirements-train.txt", "requirements-serve.txt", "requirements-dev.txt"}


def test_the_library_needs_neither_the_tuner_nor_the_server():
    library = requirement_names("requirements.txt")
    assert not library & {"keras-tuner", "aiohttp", "prometheus-client",
                          "tensorflow-serving-api", "pyyaml", "tensorboard"}
    assert uncovered("zoo", library) == []


def test_each_program_has_its_imports_in_the_library_and_its_extra():
    library = requirement_names("requirements.txt")
    assert uncovered("training", library | requirement_names("requirements-train.txt")) == []
    assert uncovered("serving", library | requirement_names("requirements-serve.txt")) == []


def test_the_import_scan_sees_a_missing_requirement():
    # The check above could pass by seeing no imports at all.
    assert {"keras", "tensorflow", "numpy"} <= third_party_imports("zoo")
    assert "aiohttp" in uncovered("serving", requirement_names("requirements.txt"))

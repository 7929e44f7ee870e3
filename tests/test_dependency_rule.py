"""docs/architecture.md's dependency rule: imports point one way."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "zoo": {"training", "serving"},
    "serving": {"zoo", "training"},
}


def imported_packages(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0], node.lineno


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_never_imports_the_later_steps(package):
    violations = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in imported_packages(path)
        if name in FORBIDDEN[package]
    ]
    assert violations == []


def test_the_rule_sees_an_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom training.train import main\n")
    assert ("training", 2) in set(imported_packages(module))

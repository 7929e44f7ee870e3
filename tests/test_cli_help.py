"""Every command-line argument of the project's programs says what it is."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROGRAMS = ("zoo", "training", "serving", "benchmarks")


def arguments_without_help(source, filename="<test>"):
    """`(line, call)` of each `add_argument` (or serving's `flag` alias) call
    with no help text, or an empty one."""
    missing = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name not in ("add_argument", "flag"):
            continue
        helps = [k.value for k in node.keywords if k.arg == "help"]
        if not helps or (isinstance(helps[0], ast.Constant) and not str(helps[0].value).strip()):
            missing.append((node.lineno, ast.unparse(node)[:80]))
    return missing


def test_every_argument_has_help():
    missing = {
        str(path.relative_to(ROOT)): found
        for folder in PROGRAMS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (found := arguments_without_help(path.read_text(), str(path)))
    }
    assert missing == {}


def test_the_scan_finds_a_missing_or_empty_help():
    source = ("p.add_argument('--a', help='fine')\n"
              "p.add_argument('--b')\n"
              "flag('--c', help='')\n")
    assert [line for line, _ in arguments_without_help(source)] == [2, 3]

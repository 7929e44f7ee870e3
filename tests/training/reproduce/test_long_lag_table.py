"""`training.reproduce.long_lag_table`: the protocol's runs, the CSV and docs/cells.md's table."""

import csv

import numpy as np
import pytest

from training.reproduce import long_lag_table
from training.reproduce.long_lag_table import FIELDS, TASKS, Task

TINY_ADDING = Task("adding8", "adding", 8, 256)
TINY_COPY = Task("copy3", "copy", 3, 256)


@pytest.mark.parametrize("task, cell", [(TINY_ADDING, "gru"), (TINY_COPY, "min_gru")])
def test_a_run_trains_to_its_budget_and_reports_its_row(task, cell):
    lines = []
    row = long_lag_table.run(cell, task, seed=0, log=lines.append)
    assert list(row) == FIELDS
    assert row["cell"] == cell and row["task"] == task.name
    assert row["sequences"] == 256  # eight batches, then the test
    assert row["outcome"] in ("solved", "failed")
    assert 0.0 <= row["score"] <= 1.0 and np.isfinite(float(row["loss"]))
    assert row["parameters"] > 0
    assert len(lines) == 1 and "256 sequences" in lines[0]


def test_a_run_stops_at_the_first_test_it_passes(monkeypatch):
    monkeypatch.setattr(long_lag_table, "SUCCESS", 0.0)  # any net passes
    row = long_lag_table.run("gru", Task("adding8", "adding", 8, 100_000))
    assert row["outcome"] == "solved"
    assert row["sequences"] == long_lag_table.CHECK_EVERY


def test_a_loss_that_is_not_finite_ends_the_run_as_diverged(monkeypatch):
    clean = long_lag_table.batch

    def poisoned(task, rng, count):
        inputs, targets = clean(task, rng, count)
        return inputs, np.full_like(targets, np.nan)

    monkeypatch.setattr(long_lag_table, "batch", poisoned)
    row = long_lag_table.run("gru", Task("adding8", "adding", 8, 100_000))
    assert row["outcome"] == "diverged"
    assert row["sequences"] == long_lag_table.BATCH_SIZE


def test_adding_batches_have_one_length_and_the_tests_score_right_answers():
    task = Task("adding20", "adding", 20, 256)
    rng = np.random.default_rng(0)
    shapes = {long_lag_table.batch(task, rng, 16)[0].shape for _ in range(20)}
    assert shapes == {(16, 22, 2)}
    inputs, targets = long_lag_table.batch(task, rng, 100)
    assert long_lag_table.score(task, targets, targets) == 1.0
    assert long_lag_table.score(task, targets + 0.05, targets) == 0.0
    copy_inputs, copy_targets = long_lag_table.batch(TINY_COPY, rng, 10)
    assert long_lag_table.score(TINY_COPY, np.eye(9)[copy_targets], copy_targets) == 1.0


def row(cell, task, outcome="failed", sequences=4096, score=0.5, seed=0):
    return {"cell": cell, "task": task, "seed": seed, "outcome": outcome,
            "sequences": sequences, "score": score, "loss": "0.1", "parameters": 1234,
            "seconds": 1.0, "backend": "tensorflow", "date": "2026-12-04"}


def test_a_rerun_replaces_its_row_and_keeps_the_others(tmp_path):
    path = tmp_path / "results.csv"
    long_lag_table.save_result(path, row("gru", "adding100"))
    long_lag_table.save_result(path, row("mgu", "adding100"))
    long_lag_table.save_result(path, row("gru", "adding100", "solved", 8192, 0.995))
    results = long_lag_table.read_results(path)
    assert set(results) == {("gru", "adding100", 0), ("mgu", "adding100", 0)}
    assert results[("gru", "adding100", 0)]["outcome"] == "solved"
    assert not (tmp_path / "results.tmp").exists()


def test_a_damaged_results_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "results.csv"
    long_lag_table.save_result(path, row("gru", "adding100"))
    with path.open("a", newline="") as file:
        csv.writer(file).writerow(["gru", "adding2", 0])
    with pytest.raises(ValueError, match=r"results.csv, line 3: .*Received"):
        long_lag_table.read_results(path)


def test_the_table_shows_success_failure_and_what_is_missing(tmp_path):
    path, doc = tmp_path / "results.csv", tmp_path / "cells.md"
    long_lag_table.save_result(path, row("gru", "adding1000", "solved", 12288, 0.992))
    long_lag_table.save_result(path, row("gru", "adding100", "failed", 256000, 0.112))
    long_lag_table.save_result(path, row("mgu", "adding1000", "diverged", 384))
    long_lag_table.save_result(path, row("janet", "adding1000", "skipped", 0))
    doc.write_text(f"before\n{long_lag_table.TABLE_START}\nold\n{long_lag_table.TABLE_END}\nafter\n")
    long_lag_table.write_docs(path, doc, cells=["gru", "mgu", "janet"])
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    lines = text.splitlines()
    gru = next(line for line in lines if line.startswith("| `gru` |"))
    assert "| no (11% right at 256,000) | not run | **12,288** | not run | 1,234 |" in gru
    assert "`KERAS_BACKEND=jax python -m training.reproduce.long_lag_table --cells gru`" in gru
    assert "diverged at 384" in next(line for line in lines if line.startswith("| `mgu` |"))
    assert "not run: T = 500 unsolved" in next(line for line in lines
                                                if line.startswith("| `janet` |"))
    assert "1 of the 3 cells with a result there so far (`gru`)" in text
    assert "A cell that did not solve a shorter lag counts as not bridging it." in text
    assert "Not yet run on every task: `gru`, `mgu`, `janet`." in text
    doc.write_text("no markers\n")
    with pytest.raises(ValueError, match="cells.md must hold the markers"):
        long_lag_table.write_docs(path, doc, cells=["gru"])


def test_the_docs_table_is_the_one_the_results_file_gives(tmp_path):
    doc = tmp_path / "cells.md"
    doc.write_text(long_lag_table.CELLS_DOC.read_text())
    long_lag_table.write_docs(long_lag_table.RESULTS, doc)
    assert doc.read_text() == long_lag_table.CELLS_DOC.read_text(), (
        "docs/cells.md's long-lag table is stale: "
        "python -m training.reproduce.long_lag_table --write-docs")


def test_longer_lags_wait_for_the_shorter_one_to_be_solved(tmp_path, monkeypatch, capsys):
    results, doc = tmp_path / "results.csv", tmp_path / "cells.md"
    doc.write_text(f"{long_lag_table.TABLE_START}\n{long_lag_table.TABLE_END}\n")
    trained = []
    solves = {"gru": {"adding100"}, "mgu": set()}

    def fake_run(cell, task, seed=0, max_sequences=None, log=print):
        trained.append((cell, task.name))
        return row(cell, task.name, "solved" if task.name in solves[cell] else "failed")

    monkeypatch.setattr(long_lag_table, "run", fake_run)
    base = ["--results", str(results), "--doc", str(doc)]
    # adding1000 before any adding500 result: nothing to go on, nothing written.
    long_lag_table.main(["--cells", "gru", "--tasks", "adding1000", *base])
    assert trained == [] and not results.exists()
    assert "adding500 has no result yet" in capsys.readouterr().out
    # Given in any order, the tasks run shortest first.
    long_lag_table.main(["--cells", "gru", "mgu", "--tasks", "adding1000", "adding500",
                         "adding100", *base])
    assert trained == [("gru", "adding100"), ("gru", "adding500"), ("mgu", "adding100")]
    outcomes = {key[:2]: value["outcome"] for key, value in
                long_lag_table.read_results(results).items()}
    assert outcomes == {("gru", "adding100"): "solved", ("gru", "adding500"): "failed",
                        ("gru", "adding1000"): "skipped", ("mgu", "adding100"): "failed",
                        ("mgu", "adding500"): "skipped", ("mgu", "adding1000"): "skipped"}
    assert "| `mgu` | no (50% right at 4,096) | not run: T = 100 unsolved |" in doc.read_text()
    # --force runs a long lag whatever came before.
    long_lag_table.main(["--cells", "mgu", "--tasks", "adding1000", "--force", *base])
    assert trained[-1] == ("mgu", "adding1000")


def test_the_tasks_are_the_issues_columns():
    assert [(task.kind, task.T) for task in TASKS.values()] == [
        ("adding", 100), ("adding", 500), ("adding", 1000), ("copy", 100)]


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "adding7"], "invalid choice: 'adding7'"),
    ([], "name --cells"),
    (["--cells", "gru", "--max-sequences", "10"], "at least one batch (32), got 10"),
    (["--cells", "gru", "--max-sequences", "1000"], "give it its own --results"),
    (["--cells", "gru", "lstmm"], "unknown cell(s) lstmm"),
])
def test_bad_command_lines_are_refused_with_the_value(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        long_lag_table.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err

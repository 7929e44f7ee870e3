"""Every cell of the catalogue on the same long-time-lag tasks: the table of docs/cells.md.

    python -m training.reproduce.long_lag_table --cells mgu janet   # their four rows' tasks
    python -m training.reproduce.long_lag_table --cells all --tasks adding1000
    python -m training.reproduce.long_lag_table --write-docs        # the table from the CSV only

The protocol is the same for every cell, the modern one (each cell's own
paper tunes its own, so the rows compare cells with one another, not with
their papers' figures):

* one recurrent layer of 32 units with the catalogue's default options,
  then a dense output layer (`zoo.models.sequence_regressor`);
* Adam, learning rate 1e-3, gradients clipped to norm 1, minibatches of 32
  sequences, every one freshly generated (no sequence is seen twice);
* every 4,096 training sequences the net is tested on 1,024 held-out ones.
  It has succeeded when 90% of them are right: for the adding problem an
  absolute error below 0.04 (the 1997 tolerance; a net that ignores either
  marked value is right for about 16%), for copy memory the recalled
  symbols (guessing: 12.5%). "Sequences to success" counts the training
  sequences seen, to that resolution;
* a run stops at success, at a loss that is not finite ("diverged"), or
  at its task's budget of training sequences (`TASKS`: 6,000 updates at
  T = 100, 3,000 at T = 500 and 1000), a budget sized for a 2-core CPU,
  far below what the cells' papers train for;
* a cell meets T = 500 only once it has solved T = 100, and T = 1000 only
  once it has solved T = 500 (`--force` runs them anyway): a cell that
  does not bridge 100 steps in its budget is not expected to bridge 1,000
  in a smaller one, and the long runs are most of the table's cost.

The table in docs/cells.md was made on the JAX backend
(`KERAS_BACKEND=jax`), where XLA compiles each cell's whole training step;
any backend runs it, and the CSV records which one did.

The tasks (`TASKS`): the 1997 adding problem (`zoo.data.synthetic.adding`)
at T = 100, 500 and 1000, its lengths drawn from [T, 1.1 T] and padded
(masked) to 1.1 T, with a linear output and squared error; and the
copy-memory task at T = 100 (`zoo.data.synthetic.copy_memory`), a softmax
at every step and cross-entropy.

Each run adds its row to docs/long_lag.csv (a new run of the same cell,
task and seed replaces the old one) and the table in docs/cells.md is
rewritten from that file, so the table always shows what was measured.
"""

import argparse
import csv
import dataclasses
import datetime
import math
import sys
import time
from pathlib import Path

from training.cli import add_verbose_flag, import_tensorflow

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "long_lag.csv"
CELLS_DOC = ROOT / "docs" / "cells.md"
TABLE_START = ("<!-- long-lag table: written by "
               "python -m training.reproduce.long_lag_table -->")
TABLE_END = "<!-- end of the long-lag table -->"

UNITS = 32
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
CLIPNORM = 1.0
CHECK_EVERY = 4096  # training sequences between two tests
HELD_OUT = 1024  # test sequences
SUCCESS = 0.9  # the fraction of the test that must be right


@dataclasses.dataclass(frozen=True)
class Task:
    """One column of the table.

    Attributes:
        name: Its name on the command line and in the CSV.
        kind: "adding" or "copy".
        T: The task's T.
        max_sequences: The training budget.
    """

    name: str
    kind: str
    T: int
    max_sequences: int

    @property
    def title(self):
        return f"{'adding' if self.kind == 'adding' else 'copy memory'}, T = {self.T}"


TASKS = {
    task.name: task
    for task in (
        Task("adding100", "adding", 100, 192_000),
        Task("adding500", "adding", 500, 96_000),
        Task("adding1000", "adding", 1000, 96_000),
        Task("copy100", "copy", 100, 192_000),
    )
}
# A task a cell meets only once it has solved another (module docstring).
PREREQUISITE = {"adding500": "adding100", "adding1000": "adding500"}
FIELDS = ["cell", "task", "seed", "outcome", "sequences", "score", "loss", "parameters",
          "seconds", "backend", "date"]


def batch(task, rng, count):
    """`(inputs, targets)` of `count` fresh sequences, all of one length."""
    import numpy as np

    from zoo.data.synthetic import adding_batch, copy_memory_batch

    if task.kind == "copy":
        return copy_memory_batch(rng, count, task.T)
    inputs, targets, _ = adding_batch(rng, count, task.T)
    # One length for every batch, so the compiled step is traced once.
    padding = task.T + task.T // 10 - inputs.shape[1]
    return np.pad(inputs, ((0, 0), (0, padding), (0, 0))), targets


def score(task, predictions, targets):
    """The fraction of the test that is right (module docstring)."""
    import numpy as np

    from zoo.data.synthetic import recall_accuracy
    from zoo.data.synthetic.adding import TOLERANCE

    if task.kind == "copy":
        return recall_accuracy(predictions, targets)
    return float(np.mean(np.abs(predictions - targets)[:, 0] < TOLERANCE))


def build_model(task, cell):
    """The compiled model of the protocol for `cell` on `task`."""
    import keras

    from zoo.data.synthetic.copy_memory import INPUT_CLASSES, OUTPUT_CLASSES
    from zoo.models.sequence_regressor import sequence_regressor

    if task.kind == "copy":
        model = sequence_regressor(INPUT_CLASSES, OUTPUT_CLASSES, cell=cell, units=UNITS,
                                   output_activation="softmax", per_step=True)
        loss = keras.losses.SparseCategoricalCrossentropy()
    else:
        model = sequence_regressor(2, cell=cell, units=UNITS, output_activation="linear")
        loss = keras.losses.MeanSquaredError()
    model.compile(keras.optimizers.Adam(LEARNING_RATE, clipnorm=CLIPNORM), loss)
    return model


def run(cell, task, seed=0, max_sequences=None, log=print):
    """Trains one cell on one task by the protocol; returns the CSV row."""
    import keras
    import numpy as np

    budget = max_sequences or task.max_sequences
    keras.utils.set_random_seed(seed)
    model = build_model(task, cell)
    test_inputs, test_targets = batch(task, np.random.default_rng([seed, 1]), HELD_OUT)
    rng = np.random.default_rng([seed, 0])
    seen, outcome, accuracy, loss = 0, "failed", 0.0, math.nan
    start = time.perf_counter()
    while seen < budget:
        for _ in range(min(CHECK_EVERY, budget - seen) // BATCH_SIZE or 1):
            loss = float(model.train_on_batch(*batch(task, rng, BATCH_SIZE)))
            seen += BATCH_SIZE
            if not math.isfinite(loss):
                break
        if not math.isfinite(loss):
            outcome = "diverged"
            break
        accuracy = score(task, model.predict(test_inputs, batch_size=256, verbose=0),
                         test_targets)
        log(f"{cell} {task.name}: {seen:,} sequences, loss {loss:.4g}, right {accuracy:.3f}")
        if accuracy >= SUCCESS:
            outcome = "solved"
            break
    return {
        "cell": cell, "task": task.name, "seed": seed, "outcome": outcome, "sequences": seen,
        "score": round(accuracy, 4), "loss": f"{loss:.4g}", "parameters": model.count_params(),
        "seconds": round(time.perf_counter() - start, 1), "backend": keras.backend.backend(),
        "date": datetime.date.today().isoformat(),
    }


def skipped(cell, task, seed):
    """The CSV row of a task not run because its prerequisite was not solved."""
    import keras

    return {
        "cell": cell, "task": task.name, "seed": seed, "outcome": "skipped", "sequences": 0,
        "score": 0.0, "loss": "", "parameters": "", "seconds": 0.0,
        "backend": keras.backend.backend(), "date": datetime.date.today().isoformat(),
    }


def read_results(path):
    """The CSV's rows keyed by (cell, task, seed); none when it does not exist."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    for line, row in enumerate(rows, start=2):
        if set(row) != set(FIELDS) or row["task"] not in TASKS or None in row.values():
            raise ValueError(f"{path}, line {line}: expected the columns {', '.join(FIELDS)} "
                             f"and a task of {', '.join(TASKS)}. Received: {row}")
    return {(row["cell"], row["task"], int(row["seed"])): row for row in rows}


def save_result(path, row):
    """Adds `row` to the CSV, replacing an earlier run of its cell, task and seed."""
    results = read_results(path)
    results[(row["cell"], row["task"], int(row["seed"]))] = row
    path = Path(path)
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        writer.writeheader()
        writer.writerows(results[key] for key in sorted(results))
    temporary.replace(path)  # a run that is killed never leaves half a file


def cell_entry(row):
    """One table cell: sequences to success, or what the run reached."""
    if row is None:
        return "not run"
    sequences = int(row["sequences"])
    if row["outcome"] == "solved":
        return f"**{sequences:,}**"
    if row["outcome"] == "diverged":
        return f"diverged at {sequences:,}"
    if row["outcome"] == "skipped":
        return f"not run: T = {TASKS[PREREQUISITE[row['task']]].T} unsolved"
    return f"no ({float(row['score']):.0%} right at {sequences:,})"


def table(results, cells, seed=0):
    """The Markdown table and its summary of which cells bridge 1,000 steps."""
    lines = [
        "| cell | " + " | ".join(task.title for task in TASKS.values())
        + " | parameters (adding) | command |",
        "|---|" + "---|" * (len(TASKS) + 2),
    ]
    for cell in cells:
        entries = [cell_entry(results.get((cell, name, seed))) for name in TASKS]
        adding = results.get((cell, "adding100", seed))
        parameters = f"{int(adding['parameters']):,}" if adding else ""
        lines.append(f"| `{cell}` | {' | '.join(entries)} | {parameters} | `KERAS_BACKEND=jax "
                     f"python -m training.reproduce.long_lag_table --cells {cell}` |")
    longest = TASKS["adding1000"]
    ran = [cell for cell in cells if (cell, longest.name, seed) in results]
    bridged = [cell for cell in ran if results[(cell, longest.name, seed)]["outcome"] == "solved"]
    summary = (
        f"Bridging 1,000 steps (the adding problem at T = 1000 within "
        f"{longest.max_sequences:,} sequences): {len(bridged)} of the {len(ran)} cells with a "
        f"result there so far" + (f" ({', '.join(f'`{cell}`' for cell in bridged)})." if bridged else ".")
    )
    summary += (" A cell that did not solve a shorter lag counts as not bridging it."
                if any(results[(cell, longest.name, seed)]["outcome"] == "skipped" for cell in ran)
                else "")
    missing = [cell for cell in cells if any((cell, name, seed) not in results for name in TASKS)]
    if missing:
        summary += f" Not yet run on every task: {', '.join(f'`{cell}`' for cell in missing)}."
    return "\n".join(lines) + "\n\n" + summary + "\n"


def write_docs(results_path=RESULTS, doc_path=CELLS_DOC, cells=None):
    """Rewrites the table between its markers in docs/cells.md from the CSV."""
    if cells is None:
        from zoo.layers.catalog import CATALOG

        cells = list(CATALOG)
    doc_path = Path(doc_path)
    text = doc_path.read_text()
    if text.count(TABLE_START) != 1 or text.count(TABLE_END) != 1:
        raise ValueError(f"{doc_path} must hold the markers {TABLE_START!r} and {TABLE_END!r} "
                         f"once each, the table's place.")
    head, rest = text.split(TABLE_START)
    _, tail = rest.split(TABLE_END)
    body = table(read_results(results_path), cells)
    doc_path.write_text(f"{head}{TABLE_START}\n{body}{TABLE_END}{tail}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m training.reproduce.long_lag_table",
        description="Train cells on the long-lag tasks by one protocol; write docs/cells.md's table.",
    )
    parser.add_argument("--cells", nargs="+", default=[],
                        help="catalogue names, or all (default: none, with --write-docs)")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS),
                        help="which tasks (default: all, prerequisites first)")
    parser.add_argument("--seed", type=int, default=0, help="the trial's seed")
    parser.add_argument("--max-sequences", type=int,
                        help="a budget instead of each task's (with its own --results)")
    parser.add_argument("--results", default=str(RESULTS), help="the CSV (default docs/long_lag.csv)")
    parser.add_argument("--doc", default=str(CELLS_DOC), help="the Markdown file holding the table")
    parser.add_argument("--force", action="store_true",
                        help="run T = 500 and 1000 even where the shorter lag was not solved")
    parser.add_argument("--write-docs", action="store_true",
                        help="only rewrite the table from the CSV")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    if not args.cells and not args.write_docs:
        parser.error("name --cells (or all), or --write-docs")
    if args.max_sequences is not None and args.max_sequences < BATCH_SIZE:
        parser.error(f"--max-sequences must be at least one batch ({BATCH_SIZE}), "
                     f"got {args.max_sequences}")
    if args.max_sequences is not None and Path(args.results).resolve() == RESULTS:
        parser.error("a run with --max-sequences is not the table's: give it its own --results")
    import_tensorflow(args.verbose)
    from zoo.layers.catalog import CATALOG

    cells = list(CATALOG) if args.cells == ["all"] else args.cells
    unknown = [cell for cell in cells if cell not in CATALOG]
    if unknown:
        parser.error(f"unknown cell(s) {', '.join(unknown)}; the catalogue has "
                     f"{', '.join(CATALOG)}")
    tasks = [name for name in TASKS if name in args.tasks]  # prerequisites first
    for cell in cells:
        for name in tasks:
            prerequisite = None if args.force else PREREQUISITE.get(name)
            before = prerequisite and read_results(args.results).get(
                (cell, prerequisite, args.seed))
            if prerequisite and before is None:
                print(f"{cell} {name}: not run: {prerequisite} has no result yet "
                      f"(run it first, or --force)", flush=True)
                continue
            if prerequisite and before["outcome"] != "solved":
                row = skipped(cell, TASKS[name], args.seed)
                print(f"{cell} {name}: not run: {prerequisite} was not solved", flush=True)
            else:
                row = run(cell, TASKS[name], args.seed, args.max_sequences)
                print(f"{cell} {name}: {row['outcome']} after {row['sequences']:,} sequences "
                      f"({row['score']:.1%} right, {row['seconds']} s)", flush=True)
            save_result(args.results, row)
            write_docs(args.results, args.doc)
    if args.write_docs:
        write_docs(args.results, args.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())

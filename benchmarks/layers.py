"""Recurrent-layer speed and memory: zoo layers against keras.layers and torch.nn.

    python -m benchmarks.layers                      # full run, writes docs/benchmarks.md
    python -m benchmarks.layers --quick              # one shape, few runs (a smoke run)
    python -m benchmarks.layers --json results.json  # also the rows as JSON
    python -m benchmarks.layers --suite revival      # sLSTM, mLSTM, minGRU, minLSTM

The "families" suite (the default) races the LSTM and GRU families against
keras.layers and torch.nn; the "revival" suite times the 2024 cells in each
of their forms against the zoo GRU's compiled training, at T = 100, 1,000
and 10,000, to show how each form's cost grows with the length. Each suite
writes its own section of docs/benchmarks.md and leaves the other's.

For every shape, each layer is timed in a process of its own (TensorFlow
and torch never share one, and one layer's memory is not another's), with
the processes alternating over `--rounds` so that a slow spell of the
machine falls on every layer alike. A process builds its layer, warms it
up, then times `--runs` inference calls (`predict_on_batch`; torch:
forward under `no_grad`) and `--runs` training steps (`train_on_batch`
with Adam on the mean squared error of the last output; torch: the same
by hand), all float32 on `--threads` threads. The table gives medians
over all rounds, the ratios against keras.layers and torch.nn, and the
peak resident memory the process gained once its framework and model were
loaded: what running and training the layer cost.

torch comes from `requirements-bench.txt` (the CPU build); without it the
torch rows are left out.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"

# name: (batch, time, input features, units)
SHAPES = {
    "default": (64, 100, 128, 256),
    "long": (16, 1000, 8, 64),
    "long500": (16, 500, 8, 64),  # with "long": how memory grows with time
    "short": (256, 20, 128, 256),
    # The revival suite: how cost grows with T at the "long" width.
    "t100": (16, 100, 8, 64),
    "t10000": (16, 10000, 8, 64),
}
# name: (framework, family, what it is)
LAYERS = {
    "keras LSTM": ("keras", "lstm", "keras.layers.LSTM"),
    "zoo LSTM": ("zoo", "lstm", 'zoo.layers.LSTM(variant="keras")'),
    "torch LSTM": ("torch", "lstm", "torch.nn.LSTM"),
    "keras GRU": ("keras", "gru", "keras.layers.GRU"),
    "zoo GRU": ("zoo", "gru", "zoo.layers.GRU (reset_after)"),
    "torch GRU": ("torch", "gru", "torch.nn.GRU"),
    "zoo OriginalLSTM": ("zoo", "original_lstm", "zoo.layers.OriginalLSTM, blocks of 1"),
    "zoo LSTM vanilla": ("zoo", "lstm_vanilla", 'zoo.layers.LSTM(variant="vanilla"), peepholes'),
    # The same layers, their training step traced within compiled_training().
    "zoo LSTM xla": ("zoo_xla", "lstm", 'zoo.layers.LSTM, compiled training'),
    "zoo GRU xla": ("zoo_xla", "gru", 'zoo.layers.GRU, compiled training'),
    "zoo OriginalLSTM xla": ("zoo_xla", "original_lstm", 'zoo.layers.OriginalLSTM, compiled training'),
    "zoo LSTM vanilla xla": ("zoo_xla", "lstm_vanilla", 'zoo.layers.LSTM(variant="vanilla"), compiled training'),
    # The 2024 cells, each form of each (catalogue name, cell options).
    "zoo sLSTM xla": ("zoo_xla", "slstm", "zoo.layers.SLSTM, compiled training"),
    "zoo mLSTM parallel": ("zoo", "mlstm/parallel", 'zoo.layers.MLSTM(mode="parallel")'),
    "zoo mLSTM chunkwise": ("zoo", "mlstm/chunkwise", 'zoo.layers.MLSTM(mode="chunkwise")'),
    "zoo mLSTM recurrent xla": ("zoo_xla", "mlstm/recurrent",
                                'zoo.layers.MLSTM(mode="recurrent"), compiled training'),
    "zoo minGRU chunkwise": ("zoo", "min_gru/chunkwise", 'zoo.layers.MinGRU(mode="chunkwise")'),
    "zoo minGRU parallel": ("zoo", "min_gru/parallel", 'zoo.layers.MinGRU(mode="parallel")'),
    "zoo minGRU recurrent xla": ("zoo_xla", "min_gru/recurrent",
                                 'zoo.layers.MinGRU(mode="recurrent"), compiled training'),
    "zoo minLSTM chunkwise": ("zoo", "min_lstm/chunkwise", 'zoo.layers.MinLSTM(mode="chunkwise")'),
    "zoo minLSTM parallel": ("zoo", "min_lstm/parallel", 'zoo.layers.MinLSTM(mode="parallel")'),
    "zoo minLSTM recurrent xla": ("zoo_xla", "min_lstm/recurrent",
                                  'zoo.layers.MinLSTM(mode="recurrent"), compiled training'),
}
_REVIVAL = [name for name in LAYERS if name.startswith(("zoo sLSTM", "zoo mLSTM", "zoo min"))]
# suite: (shapes, layers, title of its docs section)
SUITES = {
    "families": (["default", "long", "long500", "short"],
                 [name for name in LAYERS if name not in _REVIVAL],
                 "The LSTM and GRU families against keras.layers and torch.nn"),
    "revival": (["t100", "long", "t10000"], ["zoo GRU xla", *_REVIVAL],
                "The 2024 cells: sLSTM, mLSTM, minGRU and minLSTM in each of their forms"),
}
# The parallel mLSTM holds a T x T matrix per head and sequence: at T =
# 10,000 that is 16 x 4 x 10^8 floats, more memory than this benchmark's
# machines have; the chunkwise form is the one for such lengths.
SKIPPED = {("zoo mLSTM parallel", "t10000"): "T x T decay matrix: 26 GB"}


# --- One layer in one process --------------------------------------------------


def measure(layer, shape, runs, threads):
    """Times `layer` on `shape` in this process; returns the measurements."""
    framework, family, _ = LAYERS[layer]
    batch, steps, features, units = SHAPES[shape]
    if framework == "torch":
        infer, train_step = _torch_layer(family, batch, steps, features, units, threads)
    else:
        infer, train_step = _keras_layer(framework, family, batch, steps, features, units,
                                         threads)
    # The framework and the model are loaded: what running adds from here
    # (activations kept for backpropagation, compiled graphs) is the layer's.
    baseline = _peak_rss_mb()
    for _ in range(2):  # warm-up: tracing, kernel selection, allocator
        infer()
        train_step()
    inference = _times(infer, runs)
    training = _times(train_step, runs)
    return {"inference_ms": inference, "train_ms": training,
            "peak_mb": round(_peak_rss_mb() - baseline, 1)}


def _times(function, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _keras_layer(framework, family, batch, steps, features, units, threads):
    import numpy as np
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already ran in this process (a test): its threads stay
    import keras

    if framework == "keras":
        layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[family](units)
    else:
        from zoo.layers import GRU, LSTM, OriginalLSTM

        from zoo.layers.catalog import recurrent_layer

        families = {
            "lstm": lambda: LSTM(units, variant="keras"),
            "lstm_vanilla": lambda: LSTM(units, variant="vanilla"),
            "gru": lambda: GRU(units),
            "original_lstm": lambda: OriginalLSTM(units, 1),
        }
        if family in families:
            layer = families[family]()
        else:  # "name" or "name/mode" of the catalogue
            cell, _, mode = family.partition("/")
            layer = recurrent_layer(cell, units, {"mode": mode} if mode else None)
    model = keras.Sequential([keras.Input((steps, features)), layer])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, features)).astype("float32")
    y = rng.standard_normal((batch, units)).astype("float32")
    training_loop = contextlib.nullcontext
    if framework == "zoo_xla":
        from zoo.layers import compiled_training as training_loop

    def train_step():
        # The context acts where train_on_batch traces its step: the first call.
        with training_loop():
            return model.train_on_batch(x, y)

    return (lambda: model.predict_on_batch(x)), train_step


def _torch_layer(family, batch, steps, features, units, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[family](
        features, units, batch_first=True)
    optimizer = torch.optim.Adam(layer.parameters(), 1e-3)
    x = torch.randn(batch, steps, features)
    y = torch.randn(batch, units)

    def infer():
        with torch.no_grad():
            return layer(x)[0][:, -1]

    def train_step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(x)[0][:, -1], y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return infer, train_step


# --- The run -------------------------------------------------------------------


def torch_available():
    return importlib.util.find_spec("torch") is not None


def run_worker(layer, shape, runs, threads):
    """Runs `measure` in a fresh process; returns its measurements."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow",
                   "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.layers", "--worker", layer, shape,
         "--runs", str(runs), "--threads", str(threads)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{layer} on {shape} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(shapes, layers, rounds, runs, threads):
    rows = []
    for shape in shapes:
        timings = {layer: {"inference_ms": [], "train_ms": [], "peak_mb": []} for layer in layers}
        for round_ in range(rounds):
            for layer in layers:
                if (layer, shape) in SKIPPED:
                    continue
                measured = run_worker(layer, shape, runs, threads)
                for key in ("inference_ms", "train_ms"):
                    timings[layer][key] += measured[key]
                timings[layer]["peak_mb"].append(measured["peak_mb"])
                print(f"  {shape} round {round_ + 1}/{rounds} {layer}: inference "
                      f"{statistics.median(measured['inference_ms']):.1f} ms, train "
                      f"{statistics.median(measured['train_ms']):.1f} ms", flush=True)
        for layer in layers:
            if (layer, shape) in SKIPPED:
                rows.append({"shape": shape, "layer": layer, "what": LAYERS[layer][2],
                             "skipped": SKIPPED[layer, shape]})
                continue
            rows.append({
                "shape": shape, "layer": layer, "what": LAYERS[layer][2],
                "inference_ms": round(statistics.median(timings[layer]["inference_ms"]), 2),
                "train_ms": round(statistics.median(timings[layer]["train_ms"]), 2),
                "peak_mb": max(timings[layer]["peak_mb"]),
                "samples": len(timings[layer]["inference_ms"]),
            })
    return rows


def with_ratios(rows):
    """Adds each zoo/keras row's time relative to keras.layers and torch.nn."""
    by_key = {(r["shape"], r["layer"]): r for r in rows}
    for row in rows:
        if "skipped" in row:
            continue
        family = LAYERS[row["layer"]][1]
        reference = "gru" if family == "gru" else "lstm"
        for other in ("keras", "torch"):
            base = by_key.get((row["shape"], f"{other} {reference.upper()}"))
            for key in ("inference_ms", "train_ms"):
                if base:
                    row[f"{key[:-3]}_vs_{other}"] = round(row[key] / base[key], 2)
    return rows


def table(rows):
    header = ("| shape | layer | inference (ms) | training step (ms) | inference / keras | "
              "inference / torch | training / keras | training / torch | peak memory (MB) |")
    lines = [header, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {_shape(r)} | {r['what']} | "
            f"{r['inference_ms']} | {r['train_ms']} | {r.get('inference_vs_keras', '')} | "
            f"{r.get('inference_vs_torch', '')} | {r.get('train_vs_keras', '')} | "
            f"{r.get('train_vs_torch', '')} | {r['peak_mb']} |")
    return "\n".join(lines)


def revival_table(rows):
    """The revival suite: each form's times and its training speed-up over
    the zoo GRU's compiled training on the same shape."""
    gru = {r["shape"]: r for r in rows if r["layer"] == "zoo GRU xla"}
    header = ("| shape | layer | inference (ms) | training step (ms) | training speed-up "
              "over the zoo GRU (compiled) | peak memory (MB) |")
    lines = [header, "|" + "---|" * 6]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {_shape(r)} | {r['what']} | not run: {r['skipped']} | | | |")
            continue
        base = gru.get(r["shape"])
        speedup = round(base["train_ms"] / r["train_ms"], 2) if base else ""
        lines.append(f"| {_shape(r)} | {r['what']} | {r['inference_ms']} | {r['train_ms']} | "
                     f"{speedup} | {r['peak_mb']} |")
    return "\n".join(lines)


def _shape(row):
    batch, steps, features, units = SHAPES[row["shape"]]
    return f"{row['shape']} ({batch}x{steps}x{features}, {units})"


TABLES = {"families": table, "revival": revival_table}


def write_docs(suite, rows, command, threads):
    """Replaces `suite`'s section of docs/benchmarks.md, keeping the others."""
    import tensorflow as tf

    versions = f"TensorFlow {tf.__version__}"
    if torch_available():
        import torch

        versions += f", torch {torch.__version__}"
    title = SUITES[suite][2]
    section = (
        f"## {title}\n\n"
        f"`{command}` on {platform.node()}: {platform.machine()}, {os.cpu_count()} cores, "
        f"{threads} threads, Python {platform.python_version()}, {versions}. Medians over "
        "every run of every round, each layer in its own process; shapes are (batch x time x "
        "input features, units). Ratios of times are below 1 where the row is faster; "
        "speed-ups above 1 where it is faster.\n\n" + TABLES[suite](rows) + "\n")
    sections = {}
    if DOCS.exists():
        for part in DOCS.read_text().split("\n## ")[1:]:
            sections[part.split("\n", 1)[0]] = "## " + part.rstrip("\n") + "\n"
    sections[title] = section
    ordered = [SUITES[name][2] for name in SUITES]
    body = "\n".join(sections[t] for t in ordered if t in sections)
    DOCS.write_text(
        "# Recurrent-layer benchmarks\n\nWritten by `benchmarks/layers.py` "
        "(`python -m benchmarks.layers --suite NAME`), one section per suite.\n\n" + body)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.layers",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows as JSON here")
    parser.add_argument("--quick", action="store_true", help="one shape, few runs")
    parser.add_argument("--rounds", type=int, default=2, help="alternating passes over layers")
    parser.add_argument("--runs", type=int, default=7, help="timed calls per process")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of each framework")
    parser.add_argument("--suite", choices=sorted(SUITES), default="families",
                        help="which layers and shapes (default: families)")
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES),
                        help="a subset of the suite's shapes")
    parser.add_argument("--worker", nargs=2, metavar=("LAYER", "SHAPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(*args.worker, args.runs, args.threads)))
        return 0
    shapes, layers, _ = SUITES[args.suite]
    shapes = args.shapes or shapes
    if args.quick:
        shapes, args.rounds, args.runs = shapes[:1], 1, 3
    layers = [name for name in layers if LAYERS[name][0] != "torch" or torch_available()]
    rows = with_ratios(run(shapes, layers, args.rounds, args.runs, args.threads))
    print(TABLES[args.suite](rows))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))
    if not args.quick:
        # The command that reproduces the figures (where --json went is not one).
        given = list(argv if argv is not None else sys.argv[1:])
        if "--json" in given:
            del given[given.index("--json"):given.index("--json") + 2]
        command = " ".join(["python -m benchmarks.layers", *given])
        write_docs(args.suite, rows, command, args.threads)
        print(f"Wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

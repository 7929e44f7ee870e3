"""The matmuls every LSTM engine must run, timed in TensorFlow and in torch.

    python -m benchmarks.recurrence_floor          # writes docs/recurrence_floor.md
    python -m benchmarks.recurrence_floor --quick  # few runs, prints only

Whatever a recurrent layer's engine does about loops, fusion or gradients,
an LSTM of `benchmarks.layers`' default shape (batch 64, time 100, input
128, units 256) has these matrix products to compute:

* the input projection X W for all steps: (6400 x 128) @ (128 x 1024);
* the recurrence: 100 products h_{t-1} R, (64 x 256) @ (256 x 1024), each
  waiting for the one before (no batching over time is possible);
* for a training step, also 100 sequential products dz_t R^T,
  (64 x 1024) @ (1024 x 256), and the weight gradients H^T dZ,
  (256 x 6400) @ (6400 x 1024), and X^T dZ, (128 x 6400) @ (6400 x 1024).

This times each in TensorFlow (a `tf.function` graph, and under XLA) and in
torch (the CPU build of `requirements-bench.txt`), each framework in its
own process on the same threads, and sums them: the time below which no
engine on that framework's kernels can go, set beside the whole layers'
times in `docs/benchmarks.md`.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

from benchmarks.layers import SHAPES, _times

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "recurrence_floor.md"
BATCH, STEPS, FEATURES, UNITS = SHAPES["default"]  # the layers benchmark's default LSTM
GATES = 4 * UNITS

# name: (left shape, right shape, how many in sequence, part of: inference or training)
PRODUCTS = {
    "input projection X W": ((BATCH * STEPS, FEATURES), (FEATURES, GATES), 1, "inference"),
    "recurrence h R, 100 in sequence": ((BATCH, UNITS), (UNITS, GATES), STEPS, "inference"),
    "backward dz R^T, 100 in sequence": ((BATCH, GATES), (GATES, UNITS), STEPS, "training"),
    "weight gradient H^T dZ": ((UNITS, BATCH * STEPS), (BATCH * STEPS, GATES), 1, "training"),
    "weight gradient X^T dZ": ((FEATURES, BATCH * STEPS), (BATCH * STEPS, GATES), 1, "training"),
}


def measure(framework, runs, threads):
    """Median ms of each product in `framework` ("tf", "tf_xla" or "torch")."""
    import numpy as np

    _set_threads(framework, threads)
    rng = np.random.default_rng(0)
    results = {}
    for name, (left, right, count, _) in PRODUCTS.items():
        a = rng.standard_normal(left).astype("float32") * 0.05
        b = rng.standard_normal(right).astype("float32") * 0.05
        run = _chain(framework, a, b, count)
        _times(run, 3)  # warm-up: tracing, compiling, kernel selection
        results[name] = round(statistics.median(_times(run, runs)), 2)
    return results


def _set_threads(framework, threads):
    """The thread count, where the framework still lets it be set."""
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already running (inside a test): keep its pools
        pass


def _chain(framework, a, b, count):
    """A callable running `count` products, each on the previous result.

    The result is brought back to `a`'s width so the next product can take
    it, as the gate arithmetic turns h_t R into h_{t+1} (cut to a quarter)
    and dh_t into dz_t (spread four times).
    """
    width = a.shape[1]
    repeats = max(1, width // b.shape[1])
    if framework == "torch":
        import torch

        a, b = torch.from_numpy(a), torch.from_numpy(b)

        def run():
            x = a
            with torch.no_grad():
                for _ in range(count):
                    x = (x @ b)[:, :width].repeat(1, repeats)
            return x

        return run
    import tensorflow as tf

    a, b = tf.constant(a), tf.constant(b)

    @tf.function(jit_compile=framework == "tf_xla")
    def chain():
        x = a
        for _ in range(count):
            x = tf.tile(tf.matmul(x, b)[:, :width], [1, repeats])
        return x

    return lambda: chain().numpy()


def run_worker(framework, runs, threads):
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.recurrence_floor", "--worker", framework,
         "--runs", str(runs), "--threads", str(threads)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def table(results):
    frameworks = list(results)
    header = "| product | shapes | " + " | ".join(f"{f} (ms)" for f in frameworks) + " |"
    lines = [header, "|" + "---|" * (2 + len(frameworks))]
    for name, (left, right, count, _) in PRODUCTS.items():
        shapes = f"{count} x ({left[0]}x{left[1]}) @ ({right[0]}x{right[1]})"
        lines.append(f"| {name} | {shapes} | "
                     + " | ".join(str(results[f][name]) for f in frameworks) + " |")
    for part, members in (("inference", ("inference",)), ("training step", ("inference", "training"))):
        sums = [round(sum(results[f][n] for n, p in PRODUCTS.items() if p[3] in members), 1)
                for f in frameworks]
        lines.append(f"| **sum: {part}** | | " + " | ".join(f"**{s}**" for s in sums) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recurrence_floor",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few runs, no docs")
    parser.add_argument("--runs", type=int, default=15, help="timed runs; the median is reported")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of each framework")
    parser.add_argument("--worker", choices=("tf", "tf_xla", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args.runs, args.threads)))
        return 0
    if args.quick:
        args.runs = 3
    frameworks = ["tf", "tf_xla"]
    if importlib.util.find_spec("torch") is not None:
        frameworks.append("torch")
    results = {f: run_worker(f, args.runs, args.threads) for f in frameworks}
    print(table(results))
    if not args.quick:
        import tensorflow as tf

        versions = f"TensorFlow {tf.__version__}"
        if "torch" in results:
            import torch

            versions += f", torch {torch.__version__}"
        command = " ".join(["python -m benchmarks.recurrence_floor", *(argv or sys.argv[1:])])
        DOCS.write_text(
            "# The matmuls under every LSTM engine\n\n"
            f"`{command}` on {platform.node()}: {platform.machine()}, {os.cpu_count()} cores, "
            f"{args.threads} threads, Python {platform.python_version()}, {versions}. "
            "Written by `benchmarks/recurrence_floor.py`: medians of "
            f"{args.runs} runs, each framework in its own process. The shapes are those "
            "of `benchmarks.layers`' default LSTM (batch 64, time 100, input 128, units "
            "256); the sums are the least time an engine on that framework's kernels "
            "spends on products alone.\n\n" + table(results) + "\n")
        print(f"Wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

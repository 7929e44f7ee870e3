"""On-line training speed of the 1997 experiments, with and without XLA.

    python -m benchmarks.online_sgd            # writes docs/online_sgd_benchmark.md
    python -m benchmarks.online_sgd --quick    # fewer sequences, prints only

`training.reproduce.online_sgd.OnlineSGD` trains the paper's networks one
sequence per update; this times it in sequences per second on one CPU
thread, per experiment, with the chunk loop compiled by XLA (what
`python -m training.reproduce` uses) and as a plain `tf.function`, on the
same sequences.
"""

import argparse
import os
import pathlib
import platform
import sys
import time

# One thread, as the reproduction runs: set before TensorFlow starts.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np  # noqa: E402

from training.reproduce import reproduction  # noqa: E402
from training.reproduce.experiments import experiment  # noqa: E402
from training.reproduce.online_sgd import OnlineSGD  # noqa: E402

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "online_sgd_benchmark.md"
EXPERIMENTS = {"1": {}, "3a": {"T": 100, "N": 3}, "4": {"T": 100}, "6a": {}}


def sequences_per_second(name, options, jit_compile, chunks, chunk=100):
    exp = experiment(name, **options)
    trial = reproduction.Trial(exp, seed=0, cell="original_lstm", batch_size=1, chunk=chunk)
    trainer = OnlineSGD(trial.model, exp.learning_rate, exp.per_step, jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    batches = [reproduction.padded([exp.sample(rng) for _ in range(chunk)]) for _ in range(chunks + 1)]
    trainer.run(*batches[0])  # compiles
    start = time.perf_counter()
    for batch in batches[1:]:
        trainer.run(*batch)
    return round(chunks * chunk / (time.perf_counter() - start), 1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.online_sgd",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sequences, no docs")
    args = parser.parse_args(argv)
    chunks = 1 if args.quick else 5
    lines = ["| experiment | XLA (sequences/s) | no XLA (sequences/s) | speed-up |", "|---|---|---|---|"]
    for name, options in EXPERIMENTS.items():
        xla = sequences_per_second(name, options, True, chunks)
        plain = sequences_per_second(name, options, False, chunks)
        setting = ", ".join(f"{k} = {v}" for k, v in options.items())
        label = f"{name} ({setting})" if setting else name
        lines.append(f"| {label} | {xla:,.0f} | {plain:,.0f} | {xla / plain:.0f}x |")
        print(lines[-1], flush=True)
    if not args.quick:
        import tensorflow as tf

        DOCS.write_text(
            "# On-line training speed (1997 experiments)\n\n"
            f"`python -m benchmarks.online_sgd` on {platform.node()}: {platform.machine()}, "
            f"{os.cpu_count()} cores, one thread, Python {platform.python_version()}, "
            f"TensorFlow {tf.__version__}. Written by `benchmarks/online_sgd.py`: "
            f"{chunks * 100} sequences after a compiling chunk, one update per sequence, "
            "the paper's OriginalLSTM networks.\n\n" + "\n".join(lines) + "\n")
        print(f"Wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

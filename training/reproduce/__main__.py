"""Reproduce an experiment of the 1997 LSTM paper with the zoo's OriginalLSTM.

    python -m training.reproduce 4 --trials 10                 # adding, T = 100
    python -m training.reproduce 4 --T 500 --trials 3
    python -m training.reproduce 2c --p 100 --q 100 --trials 5
    python -m training.reproduce 3a --T 100 --N 3 --cell gru   # a modern cell instead
    python -m training.reproduce --list

EXPERIMENT is the paper's numbering: 1, 2a, 2b, 2c, 3a, 3b, 3c, 4, 5, 6a, 6b
(`training.reproduce.experiments` holds each one's data, network, α,
stopping rule and published figures). Each trial builds the paper's network
with its initialisation, trains it on line (one plain gradient step on
½ Σ (t - y)² per sequence, compiled: `training.reproduce.online_sgd`) until
the paper's stopping rule holds or `--max-sequences` have been seen, then
tests it as the paper does (`training.reproduce.reproduction`). It prints
progress and a summary beside the paper's figures, and writes every trial
to JSON (`--json`, default runs/reproduce/EXP.json).

Beyond the paper, each reported as such: `--cell lstm|gru|simple_rnn`
(a modern layer in the 1997 layer's place), `--full-gradient` (full BPTT
instead of the truncated gradient), `--output-activation linear`,
`--step-updates` (an update after every step, for Exp. 1, 2a, 2b),
`--batch-size` and `--learning-rate`. `--rtrl` trains Exp. 1 with the
paper's own rule instead: truncated RTRL, the weights changed after every
step (`training.reproduce.rtrl`). `docs/reproduction.md` has the
results and every deviation.

For looking into a run: each OriginalLSTM trial's JSON holds how saturated
its memory cells end (`cell_states`), and `--snapshot-every N` keeps the
weights every N sequences, in `EXP.seedS.weights.npz` beside the JSON.

Exit status: 0 when some trial succeeded, 1 when none did, 2 for a bad
command line.
"""

import argparse
import sys

from training.cli import add_verbose_flag, import_tensorflow

# `training.reproduce.experiments.EXPERIMENTS` and `training.reproduce.networks.CELLS`,
# named here so that the command line is checked before TensorFlow (a test keeps them equal).
EXPERIMENT_NAMES = ("1", "2a", "2b", "2c", "3a", "3b", "3c", "4", "5", "6a", "6b")
CELL_NAMES = ("original_lstm", "lstm", "gru", "simple_rnn")


def main(argv=None):
    """Parses and checks `argv`, then runs the trials; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        return list_experiments(args.verbose)
    check(args, parser.error)
    import_tensorflow(args.verbose)
    from training.reproduce.reproduction import run

    return run(args, parser.error)


def build_parser():
    """The command line's flags."""
    parser = argparse.ArgumentParser(
        prog="python -m training.reproduce",
        description="Reproduce a 1997 LSTM experiment (Hochreiter & Schmidhuber, Section 5).",
    )
    parser.add_argument("experiment", nargs="?", choices=EXPERIMENT_NAMES,
                        help="the experiment (--list describes them)")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--trials", type=int, default=1, help="independent trials (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="trial i uses seed + i")
    parser.add_argument("--max-sequences", type=int, default=1_000_000,
                        help="training sequences a trial may see before it counts as failed")
    parser.add_argument("--cell", choices=CELL_NAMES, default="original_lstm",
                        help="the paper's OriginalLSTM, or a modern layer in its place")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="sequences per update (1: on line, as the paper)")
    parser.add_argument("--chunk", type=int, default=100,
                        help="sequences per compiled call (speed only)")
    parser.add_argument("--learning-rate", type=float, help="α instead of the paper's")
    parser.add_argument("--output-activation", choices=("sigmoid", "linear"), default="sigmoid",
                        help="the output units: logistic (the paper's) or linear")
    parser.add_argument("--step-updates", action="store_true",
                        help="Exp. 1, 2a, 2b: update after every time step, the prefix recomputed "
                             "under the current weights (--rtrl is the paper's own rule)")
    parser.add_argument("--rtrl", action="store_true",
                        help="Exp. 1: the paper's truncated RTRL, weights changed after every step")
    parser.add_argument("--full-gradient", action="store_true",
                        help="OriginalLSTM with full BPTT instead of the paper's truncated gradient")
    parser.add_argument("--T", type=int, help="Exp. 3, 4, 5: minimal sequence length")
    parser.add_argument("--N", type=int, help="Exp. 3: class-carrying elements")
    parser.add_argument("--p", type=int, help="Exp. 2: time lag / distractor symbols")
    parser.add_argument("--q", type=int, help="Exp. 2c: distractors always present")
    parser.add_argument("--n-seq", type=int, help="Exp. 5: stop threshold (140 or 13)")
    parser.add_argument("--network", help="Exp. 1: reber_3x2 or reber_4x1")
    parser.add_argument("--json", help="results file (default runs/reproduce/EXP.json)")
    parser.add_argument("--snapshot-every", type=int,
                        help="keep the weights every N sequences (EXP.seedS.weights.npz by the JSON)")
    add_verbose_flag(parser)
    return parser


def list_experiments(verbose):
    """Prints each experiment with its network, α and stopping rule; returns 0."""
    import_tensorflow(verbose)
    from training.reproduce.experiments import experiment

    for name in EXPERIMENT_NAMES:
        e = experiment(name)
        print(f"{name:3} {e.title} (network {e.network}, α {e.learning_rate}, stop {e.stop})")
    return 0


def check(args, fail):
    """Calls `fail(message)` (which exits) for what the flags alone rule out."""
    if args.experiment is None:
        fail("an EXPERIMENT is required (or --list)")
    if args.full_gradient and args.cell != "original_lstm":
        fail(f"--full-gradient applies to --cell original_lstm only, not {args.cell}")
    for flag in ("trials", "max_sequences", "batch_size", "chunk", "snapshot_every"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            fail(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    if args.rtrl:
        check_rtrl(args, fail)


def check_rtrl(args, fail):
    """`--rtrl` is the paper's rule for its own cell on Exp. 1: nothing else goes with it."""
    clashes = [flag for flag, on in (
        ("--step-updates", args.step_updates), ("--full-gradient", args.full_gradient),
        (f"--cell {args.cell}", args.cell != "original_lstm"),
        (f"--batch-size {args.batch_size}", args.batch_size != 1)) if on]
    if clashes:
        fail(f"--rtrl is the paper's on-line rule for its own cell; "
             f"drop {', '.join(clashes)}")
    if args.experiment != "1":
        fail(f"--rtrl applies to Exp. 1 (the 1997 cell with targets at every "
             f"step), not {args.experiment}")


if __name__ == "__main__":
    sys.exit(main())

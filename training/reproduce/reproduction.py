"""The 1997 paper's experiments run as `python -m training.reproduce` asks
(its command line is `training/reproduce/__main__.py`): the trials, their
tests and the summary beside the paper's figures.
"""

import json
import math
import pathlib
import sys
import time

import keras
import numpy as np

from training.reproduce.experiments import RECENT, experiment
from training.reproduce.online_sgd import OnlineSGD
from training.reproduce.rtrl import TruncatedRTRL
from zoo.data import synthetic
from zoo.layers import OriginalLSTM
from zoo.layers.original_lstm import squash_h

BUCKET = 16  # padded lengths are multiples of this: few compiled shapes
TEST_SIZE = 2560  # Table 11's test set of the on-line tasks
PROGRESS_SECONDS = 10.0
# |s_c| above this leaves h'(s_c) = ½ sech²(s_c / 2) below 0.035: an error
# reaching such a cell's output hardly enters its CEC (Section 4, "internal
# state drift").
SATURATED_STATE = 4.0


def padded(sequences):
    """`(inputs, targets, mask)` of sequences padded to a bucketed length."""
    inputs, targets, lengths = synthetic.pad_batch(sequences)
    length = BUCKET * math.ceil(inputs.shape[1] / BUCKET)
    extra = length - inputs.shape[1]
    inputs = np.pad(inputs, ((0, 0), (0, extra), (0, 0)))
    if targets.ndim == 3:
        targets = np.pad(targets, ((0, 0), (0, extra), (0, 0)))
    mask = np.arange(length)[None, :] < lengths[:, None]
    return inputs, targets, mask


def end_outputs(trainer, sequences, batch=512):
    """The net's outputs at each sequence's last real step, batched."""
    outputs = []
    for start in range(0, len(sequences), batch):
        inputs, _, mask = padded(sequences[start : start + batch])
        result = trainer.predict(inputs, batch_size=batch)
        if result.ndim == 3:
            result = result[np.arange(len(result)), mask.sum(1) - 1]
        outputs.append(result)
    return np.concatenate(outputs)


class Trial:
    """One training run of an experiment: data streams, net, stopping rule."""

    def __init__(self, exp, seed, cell, batch_size, chunk, full_gradient=False,
                 output_activation="sigmoid", step_updates=False, rtrl=False,
                 snapshot_every=None):
        self.exp = exp
        self.seed = seed
        self.snapshot_every = snapshot_every
        self.snapshots = {}  # "{sequences seen}/{variable path}": weights
        keras.utils.set_random_seed(seed)
        self.train_rng = np.random.default_rng([seed, 0])
        self.test_rng = np.random.default_rng([seed, 1])
        overrides = {"truncated_gradient": False} if full_gradient else {}
        self.model = exp.build(cell, output_activation, **overrides)
        if rtrl:
            self.trainer = TruncatedRTRL(self.model, exp.learning_rate)
        else:
            self.trainer = OnlineSGD(self.model, exp.learning_rate, exp.per_step, batch_size,
                                     step_updates=step_updates)
        self.chunk = batch_size * max(1, round(chunk / batch_size))
        self.seen = 0
        self.recent_correct = np.zeros(0, bool)
        self.recent_squared = np.zeros(0)
        self.result = {"seed": seed, "success": False, "sequences": None}

    # --- stopping rules on the most recent training sequences (st3, recent_wrong)

    def _stop_in_chunk(self, outputs, targets):
        """Index in this chunk of the first sequence after which the rule holds."""
        if self.exp.stop == "recent_wrong":  # Exp. 5: "absolute errors exceeding 0.04"
            correct = ~np.any(np.abs(outputs - targets) > self.exp.tolerance, axis=-1)
        else:
            correct = self.exp.correct(outputs, targets)
        squared = np.mean(np.square(outputs - targets), axis=-1)
        history = len(self.recent_correct)
        all_correct = np.concatenate([self.recent_correct, correct])
        all_squared = np.concatenate([self.recent_squared, squared])
        self.recent_correct = all_correct[-(RECENT - 1):]
        self.recent_squared = all_squared[-(RECENT - 1):]
        if len(all_correct) < RECENT:
            return None
        # Window sums over the RECENT sequences ending at each index.
        correct_sum = _window_sums(all_correct.astype(np.int64))
        squared_mean = _window_sums(all_squared) / RECENT
        if self.exp.stop == "st3":
            holds = (correct_sum == RECENT) & (squared_mean < self.exp.stop_error)
        else:  # fewer than n_seq wrong among the RECENT most recent
            holds = RECENT - correct_sum < self.exp.options["n_seq"]
        hits = np.flatnonzero(holds)
        if not len(hits):
            return None
        # Window k ends at index k + RECENT - 1 of all_*, i.e. in this chunk at:
        return int(hits[0] + RECENT - 1 - history)

    # --- tests (Exp. 1, 2, 3 stop on them; every experiment ends with one)

    def _fresh(self, count):
        return [self.exp.sample(self.test_rng) for _ in range(count)]

    def test(self, final=False):
        """Runs the experiment's test; returns (passed, figures)."""
        exp, name = self.exp, self.exp.name
        if name == "1":
            strings = exp.options["train_strings"] + exp.options["test_strings"]
            wrong = int(np.sum(~self._reber_correct(strings)))
            return wrong == 0, {"strings_wrong": wrong, "strings": len(strings)}
        if name == "2a":
            # The training set is two sequences: the x one and the y one.
            sequences = _both_2a_sequences(exp.options["p"])
            inputs, targets, mask = padded(sequences)
            outputs = self.trainer.predict(inputs)
            worst = float(np.max(np.abs(outputs - targets)[mask]))
            return worst < exp.tolerance, {"max_error": worst}
        if name in ("2b", "2c"):
            sequences = self._fresh(10_000)
            outputs = end_outputs(self.trainer, sequences)
            targets = np.stack([_end_target(t) for _, t in sequences])
            worst = float(np.max(np.abs(outputs - targets)))
            return worst < exp.tolerance, {"max_error_at_end": worst, "sequences": 10_000}
        if name.startswith("3"):
            return self._test_two_sequence(TEST_SIZE if final else 256)
        sequences = self._fresh(TEST_SIZE)
        outputs = end_outputs(self.trainer, sequences)
        targets = np.stack([t for _, t in sequences])
        wrong = int(np.sum(~exp.correct(outputs, targets)))
        mse = float(np.mean(np.square(outputs - targets)))
        return wrong == 0, {"wrong": wrong, "of": TEST_SIZE, "mse": mse}

    def _reber_correct(self, strings):
        """Per string: at every step, each possible next symbol's output
        unit is above every impossible one's (the paper's Exp. 1 test)."""
        inputs, possible, mask = padded(_reber_rows(strings))
        possible = possible.astype(bool)
        outputs = self.trainer.predict(inputs)
        lowest_possible = np.where(possible, outputs, np.inf).min(-1)
        highest_other = np.where(possible, -np.inf, outputs).max(-1)
        return np.all((lowest_possible > highest_other) | ~mask, axis=1)

    def _test_two_sequence(self, count):
        exp = self.exp
        rows = [
            synthetic.two_sequence_with_clean_target(
                self.test_rng, exp.options["T"], exp.options["N"], exp.options["variant"]
            )
            for _ in range(count)
        ]
        outputs = end_outputs(self.trainer, [(x, t) for x, t, _ in rows])[:, 0]
        clean = np.array([c[0] for _, _, c in rows])
        difference = np.abs(outputs - clean)
        figures = {"of": count, "mean_abs_error": float(difference.mean())}
        if exp.options["variant"] == "c":
            # Misclassified: more than 0.1 from the noise-free target.
            wrong = int(np.sum(difference > exp.tolerance))
            passed = wrong == 0 and difference.mean() < exp.stop_error
        else:
            wrong = int(np.sum(difference >= exp.tolerance))
            # ST1: none (3a) or fewer than 6 (3b) of 256 misclassified.
            st1 = wrong == 0 if exp.options["variant"] == "a" else wrong < 6
            passed = st1 and difference.mean() < exp.stop_error
            figures["st1"] = bool(st1)
        figures.update(wrong=wrong, fraction_misclassified=wrong / count)
        return passed, figures

    # --- the training loop

    def run(self, max_sequences, report):
        exp = self.exp
        start = time.perf_counter()
        next_check = exp.check_every
        last_report = start
        while self.seen < max_sequences and not self.result["success"]:
            sequences = [exp.sample(self.train_rng) for _ in range(self.chunk)]
            inputs, targets, mask = padded(sequences)
            out = self.trainer.run(inputs, targets, mask)
            stop_at = None
            if exp.stop in ("st3", "recent_wrong"):
                end_targets = np.stack([_end_target(t) for _, t in sequences])
                stop_at = self._stop_in_chunk(out["outputs"], end_targets)
            self.seen += self.chunk
            if self.snapshot_every and self.seen // self.snapshot_every > (
                    self.seen - self.chunk) // self.snapshot_every:
                for variable in self.model.weights:
                    self.snapshots[f"{self.seen}/{variable.path}"] = keras.ops.convert_to_numpy(variable)
            if stop_at is not None:
                self._succeed(self.seen - self.chunk + stop_at + 1)
            elif exp.stop == "test" and self.seen >= next_check:
                next_check += exp.check_every
                passed, figures = self.test()
                if figures.get("st1") and "st1" not in self.result:
                    self.result["st1"] = self.seen
                if passed:
                    self._succeed(self.seen)
            now = time.perf_counter()
            if now - last_report > PROGRESS_SECONDS:
                last_report = now
                report(f"  {self.seen:,} sequences, recent mean E {out['loss'].mean():.4f}, "
                       f"{self.seen / (now - start):,.0f} sequences/s")
        seconds = time.perf_counter() - start
        self.result.update(
            sequences_trained=self.seen,
            seconds=round(seconds, 2),
            sequences_per_second=round(self.seen / seconds, 1),
        )
        self.result["test"] = self.test(final=True)[1]
        layers = [layer for layer in self.model.layers if isinstance(layer, OriginalLSTM)]
        if layers:
            self.result["cell_states"] = self.cell_states(layers[0])
        return self.result

    def cell_states(self, layer, count=256):
        """How far the memory cells' states s_c end from zero.

        Runs the train and test strings (Exp. 1) or `count` fresh sequences
        and returns, per cell, the mean |s_c| at the last real step and,
        where h is the paper's squash_h (not in Exp. 2a/2b, where h is the
        identity), the fraction of sequences where it is above
        `SATURATED_STATE`.
        """
        if self.exp.name == "1":
            sequences = _reber_rows(self.exp.options["train_strings"] + self.exp.options["test_strings"])
        else:
            sequences = self._fresh(count)
        inputs, _, mask = padded(sequences)
        # The trained cell in Keras's loop, returning [output, y_c, s_c, y_in, y_out].
        final = keras.layers.RNN(layer.cell, return_state=True)(inputs, mask=mask)
        size = np.abs(keras.ops.convert_to_numpy(final[2])).astype("float64")
        figures = {"mean_abs": np.round(size.mean(axis=0), 3).tolist()}
        if layer.cell.cell_output_activation is squash_h:
            saturated = np.mean(size > SATURATED_STATE, axis=0)
            figures["fraction_saturated"] = np.round(saturated, 3).tolist()
        return figures

    def _succeed(self, sequences):
        self.result.update(success=True, sequences=sequences)


def _reber_rows(strings):
    """Exp. 1 strings as `(inputs, possible next symbols)` rows."""
    return [(synthetic.reber_sequence(s)[0], synthetic.reber_possible_targets(s)) for s in strings]


def _window_sums(values):
    """Sums of every RECENT consecutive values (cumulative sums: O(n))."""
    totals = np.concatenate([[0], np.cumsum(values)])
    return totals[RECENT:] - totals[:-RECENT]


def _end_target(target):
    return target[-1] if target.ndim == 2 else target


def _both_2a_sequences(p):
    """2a's two training sequences, found by drawing until both appear."""
    rng, found = np.random.default_rng(0), {}
    while len(found) < 2:
        inputs, targets = synthetic.noise_free_sequence(rng, p)
        found[int(np.argmax(inputs[0]))] = (inputs, targets)
    return list(found.values())


def summarize(exp, trials):
    """Means over trials, the paper's figures beside them."""
    successes = [t for t in trials if t["success"]]
    summary = {
        "trials": len(trials),
        "success_percent": 100.0 * len(successes) / len(trials),
        "mean_sequences": float(np.mean([t["sequences"] for t in successes])) if successes else None,
        "sequences_per_second": float(np.mean([t["sequences_per_second"] for t in trials])),
    }
    if successes:
        summary["min_sequences"] = min(t["sequences"] for t in successes)
        summary["max_sequences"] = max(t["sequences"] for t in successes)
    st1 = [t["st1"] for t in trials if "st1" in t]
    if st1:
        summary["mean_st1"] = float(np.mean(st1))
    for key in ("wrong", "mse", "fraction_misclassified", "mean_abs_error", "max_error",
                "max_error_at_end", "strings_wrong"):
        values = [t["test"][key] for t in trials if key in t["test"]]
        if values:
            summary[f"test_{key}"] = float(np.mean(values))
    return summary


def run(args, fail):
    """Runs the trials `args` ask for; returns the exit status.

    `fail(message)` reports a command-line problem found only now (the
    experiment's own options) and exits with status 2.
    """
    exp = build_experiment(args, fail)
    options = {k: v for k, v in exp.options.items() if not k.endswith("_strings")}
    gradient = describe_gradient(args)
    report(f"Experiment {exp.name}: {exp.title}; {options}; cell {args.cell} ({gradient}), "
           f"{args.output_activation} outputs, α {exp.learning_rate}, batch size {args.batch_size}, "
           f"stop {exp.stop}")
    path = pathlib.Path(args.json or f"runs/reproduce/{exp.name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    trials = [run_trial(exp, args, i, path) for i in range(args.trials)]
    summary = summarize(exp, trials)
    report(f"summary: {json.dumps(summary)}")
    report(f"paper ({exp.paper['table']}): {json.dumps({k: v for k, v in exp.paper.items() if k != 'table'})}")
    path.write_text(json.dumps(record(exp, args, options, gradient, summary, trials), indent=2) + "\n")
    report(f"wrote {path}")
    return 0 if summary["success_percent"] > 0 else 1


def report(line):
    """A line of progress for the person watching, at once."""
    print(line, flush=True)


def build_experiment(args, fail):
    """The experiment `args` name, with their options; `fail`s on a bad one."""
    try:
        exp = experiment(
            args.experiment, T=args.T, N=args.N, p=args.p, q=args.q, n_seq=args.n_seq,
            network=args.network, learning_rate=args.learning_rate,
            rng=np.random.default_rng([args.seed, 2]),
        )
    except ValueError as error:
        fail(str(error))
    if args.step_updates and not exp.per_step:
        fail(f"--step-updates applies to Exp. 1, 2a and 2b (targets at every step), "
             f"not {args.experiment}")
    return exp


def describe_gradient(args):
    """How the trials learn, in words, for the report and the record."""
    if args.rtrl:
        return "the paper's truncated RTRL"
    if args.full_gradient or args.cell != "original_lstm":
        return "full BPTT"
    return "the paper's truncated gradient"


def run_trial(exp, args, i, path):
    """Trains and tests trial `i` (seed `args.seed + i`), keeps its weight
    snapshots beside `path`, reports it; returns its result."""
    trial = Trial(exp, args.seed + i, args.cell, args.batch_size, args.chunk,
                  args.full_gradient, args.output_activation, args.step_updates,
                  args.rtrl, args.snapshot_every)
    result = trial.run(args.max_sequences, report)
    if trial.snapshots:
        weights = path.with_name(f"{path.stem}.seed{trial.seed}.weights.npz")
        np.savez(weights, **trial.snapshots)
        result["snapshots"] = weights.name
    outcome = f"success after {result['sequences']:,}" if result["success"] else "no success"
    report(f"trial {i + 1}/{args.trials} (seed {result['seed']}): {outcome} "
           f"({result['sequences_trained']:,} sequences, {result['seconds']:.0f} s, "
           f"{result['sequences_per_second']:,.0f}/s); test {result['test']}")
    return result


def record(exp, args, options, gradient, summary, trials):
    """What the JSON file holds: the command, the options, every trial, the summary."""
    return {
        "experiment": exp.name, "title": exp.title, "options": options, "cell": args.cell,
        "learning_rate": exp.learning_rate, "batch_size": args.batch_size, "gradient": gradient,
        "output_activation": args.output_activation,
        "updates": "every step" if args.step_updates or args.rtrl else "every sequence",
        "max_sequences": args.max_sequences, "command": " ".join(sys.argv),
        "paper": exp.paper, "summary": summary, "trials": trials,
    }

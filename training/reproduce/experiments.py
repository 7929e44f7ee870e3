"""The experiments of Hochreiter & Schmidhuber 1997 (Section 5), as data.

Each `Experiment` names its data generator (`zoo.data.synthetic`), its
network (`training.reproduce.networks.NETWORKS`), its learning rate α
(Table 10), when training stops (Table 11) and how the trained net is
tested, with the paper's published figures beside them.
`python -m training.reproduce` runs them.

Stopping rules, in the paper's words where it has them:

* "test": every `check_every` training sequences the net is tested on
  fresh sequences (Exp. 1, 2, 3); it has succeeded once the test passes.
  "Success after" is then the number of training sequences seen, to the
  resolution of `check_every`.
* "st3": ST3(β) of Table 11, "average training error below β and the 2000
  most recent sequences processed correctly" (Exp. 4, 6), checked after
  every sequence. The average training error is the mean squared error
  per output unit over those 2000 sequences.
* "recent_wrong": Exp. 5 stops "as soon as less than n_seq of the 2000
  most recent training sequences lead to absolute errors exceeding 0.04".
"""

import dataclasses

import numpy as np

from zoo.data import synthetic
from training.reproduce.networks import build_network

RECENT = 2000  # the "2000 most recent sequences" of ST3 and Exp. 5


@dataclasses.dataclass
class Experiment:
    """One of the paper's experiments with its options fixed.

    Attributes:
        name: "1", "2a", ..., "6b".
        title: What the task is, for reports.
        network: The `NETWORKS` preset.
        learning_rate: α.
        per_step: Whether targets come at every step.
        tolerance: A sequence is processed correctly when the absolute
            error of every output at its end is below this (ABS(β)).
        stop: "test", "st3" or "recent_wrong" (module docstring).
        options: The task's parameters (T, N, p, q, n_seq, ...).
        paper: The published figures for these options.
        stop_error: β of ST3, or the test's mean-error bound.
        check_every: Training sequences between two tests ("test" only).
        network_inputs: Input units, where the preset leaves it open.
    """

    name: str
    title: str
    network: str
    learning_rate: float
    per_step: bool
    tolerance: float
    stop: str
    options: dict
    paper: dict
    stop_error: float = 0.0
    check_every: int = 1000
    network_inputs: int = None

    def build(self, cell="original_lstm", output_activation="sigmoid", **layer_overrides):
        """The experiment's network, with padding masked.

        `layer_overrides` go to `OriginalLSTM` (e.g. `truncated_gradient`).
        """
        return build_network(
            self.network, inputs=self.network_inputs, cell=cell, masking=True,
            output_activation=output_activation, **layer_overrides,
        )

    def sample(self, rng):
        """One training sequence: `(inputs, target)`, the target an array."""
        inputs, target = SAMPLERS[self.name](rng, self)
        return inputs, np.atleast_1d(np.asarray(target, dtype="float32"))

    def correct(self, outputs, targets):
        """Per sequence: every output's |error| at the end below tolerance."""
        return np.all(np.abs(outputs - targets) < self.tolerance, axis=-1)


# --- samplers: one training sequence per call, from zoo.data.synthetic ---

def _reber(rng, experiment):
    strings = experiment.options["train_strings"]
    return synthetic.reber_sequence(strings[int(rng.integers(len(strings)))])


SAMPLERS = {
    "1": _reber,
    "2a": lambda rng, e: synthetic.noise_free_sequence(rng, e.options["p"]),
    "2b": lambda rng, e: synthetic.no_local_regularities_sequence(rng, e.options["p"]),
    "2c": lambda rng, e: synthetic.distractor_sequence(rng, e.options["p"], e.options["q"]),
    "3a": lambda rng, e: synthetic.two_sequence(rng, e.options["T"], e.options["N"], "a"),
    "3b": lambda rng, e: synthetic.two_sequence(rng, e.options["T"], e.options["N"], "b"),
    "3c": lambda rng, e: synthetic.two_sequence(rng, e.options["T"], e.options["N"], "c"),
    "4": lambda rng, e: synthetic.adding_sequence(rng, e.options["T"]),
    "5": lambda rng, e: synthetic.multiplication_sequence(rng, e.options["T"]),
    "6a": lambda rng, e: synthetic.temporal_order_sequence(rng, "a"),
    "6b": lambda rng, e: synthetic.temporal_order_sequence(rng, "b"),
}

# --- the paper's figures (Tables 1-9), keyed by the options they depend on ---

TABLE_1 = {  # (network, α) -> % successful trials, mean sequences until success
    ("reber_4x1", 0.1): (100, 39_740),
    ("reber_3x2", 0.1): (100, 21_730),
    ("reber_3x2", 0.2): (97, 14_060),
    ("reber_4x1", 0.5): (97, 9_500),
    ("reber_3x2", 0.5): (100, 8_440),
}
TABLE_3 = {  # (q, p) -> mean sequences until success
    (50, 50): 30_000, (100, 100): 31_000, (200, 200): 33_000, (500, 500): 38_000,
    (1000, 1000): 49_000, (1000, 500): 49_000, (1000, 200): 75_000,
    (1000, 100): 135_000, (1000, 50): 203_000,
}
TABLE_4_5 = {  # (variant, T, N) -> ST1, ST2, fraction misclassified
    ("a", 100, 3): (27_380, 39_850, 0.000195),
    ("a", 100, 1): (58_370, 64_330, 0.000117),
    ("a", 1000, 3): (446_850, 452_460, 0.000078),
    ("b", 100, 3): (41_740, 43_250, 0.00828),
    ("b", 100, 1): (74_950, 78_430, 0.01500),
    ("b", 1000, 1): (481_060, 485_080, 0.01207),
}
TABLE_6 = {  # (T, N) -> stop, fraction misclassified, mean |difference|
    (100, 3): (269_650, 0.00558, 0.014),
    (100, 1): (565_640, 0.00441, 0.012),
}
TABLE_7 = {100: (74_000, 1), 500: (209_000, 0), 1000: (853_000, 1)}  # T -> after, wrong of 2560
TABLE_8 = {140: (482_000, 139, 0.0223), 13: (1_273_000, 14, 0.0139)}  # n_seq -> after, wrong, MSE


def experiment(name, T=None, N=None, p=None, q=None, n_seq=None, network=None,
               learning_rate=None, rng=None):
    """The experiment `name` with the paper's defaults for unset options.

    Args:
        name: One of `EXPERIMENTS`.
        T, N: Exp. 3 (T 100 or 1000, N 1 or 3) and Exp. 4/5 (T).
        p, q: Exp. 2 (p; and q for 2c).
        n_seq: Exp. 5's stopping threshold (140 or 13).
        network: Exp. 1: "reber_3x2" or "reber_4x1".
        learning_rate: α, instead of the paper's.
        rng: Exp. 1 draws its 256 training and 256 test strings from it.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; expected one of {EXPERIMENTS}")
    e = _DEFINITIONS[name](T=T, N=N, p=p, q=q, n_seq=n_seq, network=network,
                           rng=rng if rng is not None else np.random.default_rng(0))
    if learning_rate is not None:
        if not learning_rate > 0:
            raise ValueError(
                f"Argument `learning_rate` must be positive. Received: learning_rate={learning_rate!r}"
            )
        e.learning_rate = float(learning_rate)
        if name == "1":  # Table 1 has a row per network and α
            success, after = TABLE_1.get((e.network, e.learning_rate), (None, None))
            e.paper.update(success_percent=success, sequences=after)
    return e


def _exp1(network, rng, **_):
    network = network or "reber_3x2"
    if network not in ("reber_3x2", "reber_4x1"):
        raise ValueError(
            f"Exp. 1 runs network 'reber_3x2' or 'reber_4x1'. Received: network={network!r}"
        )
    train, test = synthetic.reber_train_test(rng)
    alpha = 0.5
    success, after = TABLE_1.get((network, alpha), (None, None))
    return Experiment(
        "1", "embedded Reber grammar, next-symbol prediction", network, alpha,
        per_step=True, tolerance=np.inf, stop="test", check_every=500,
        options={"network": network, "train_strings": train, "test_strings": test},
        paper={"table": "Table 1", "success_percent": success, "sequences": after},
    )


def _exp2(name):
    def define(p, q, **_):
        p = p or 100
        if name == "2c":
            q = q if q is not None else 100
            return Experiment(
                "2c", "very long lags: remember the 2nd of q + k + 4 symbols",
                "long_lag_2c", 0.01, per_step=False, tolerance=0.2, stop="test",
                check_every=5000, network_inputs=p + 4, options={"p": p, "q": q},
                paper={"table": "Table 3", "sequences": TABLE_3.get((q, p))},
            )
        if p != 100:
            raise ValueError(f"Exp. {name} uses the 2a/2b network of p = 100. Received: p={p}")
        title = {"2a": "noise-free long lags", "2b": "long lags, no local regularities"}[name]
        after = {"2a": 5_040, "2b": 5_680}[name]
        return Experiment(
            name, title, "long_lag_2a", 1.0, per_step=True, tolerance=0.25, stop="test",
            check_every=500, options={"p": p},
            paper={"table": "Table 2" if name == "2a" else "Section 5.2",
                   "success_percent": 100, "sequences": after},
        )
    return define


def _exp3(variant):
    def define(T, N, **_):
        T, N = T or 100, N or 3
        if variant == "c":
            stop, wrong, difference = TABLE_6.get((T, N), (None, None, None))
            paper = {"table": "Table 6", "sequences": stop,
                     "fraction_misclassified": wrong, "mean_difference": difference}
            alpha, bound = 0.1, 0.015
        else:
            st1, st2, wrong = TABLE_4_5.get((variant, T, N), (None, None, None))
            paper = {"table": "Table 4" if variant == "a" else "Table 5",
                     "st1": st1, "sequences": st2, "fraction_misclassified": wrong}
            alpha, bound = 1.0, {"a": 0.01, "b": 0.04}[variant]
        return Experiment(
            "3" + variant, "two-sequence problem, class in the first N of T elements",
            "two_sequence", alpha, per_step=False,
            tolerance=0.1 if variant == "c" else 0.2, stop="test", stop_error=bound,
            check_every=1000, options={"T": T, "N": N, "variant": variant}, paper=paper,
        )
    return define


def _exp4(T, **_):
    T = T or 100
    after, wrong = TABLE_7.get(T, (None, None))
    return Experiment(
        "4", "adding problem", "adding", 0.5, per_step=False, tolerance=0.04,
        stop="st3", stop_error=0.01, options={"T": T},
        paper={"table": "Table 7", "sequences": after, "wrong_of_2560": wrong},
    )


def _exp5(T, n_seq, **_):
    T, n_seq = T or 100, n_seq or 140
    after, wrong, mse = TABLE_8.get(n_seq, (None, None, None)) if T == 100 else (None,) * 3
    return Experiment(
        "5", "multiplication problem", "multiplication", 0.1, per_step=False,
        tolerance=0.04, stop="recent_wrong", options={"T": T, "n_seq": n_seq},
        paper={"table": "Table 8", "sequences": after, "wrong_of_2560": wrong, "mse": mse},
    )


def _exp6(variant):
    def define(**_):
        after, wrong = {"a": (31_390, 1), "b": (571_100, 2)}[variant]
        return Experiment(
            "6" + variant, "temporal order of X/Y at 2 or 3 positions",
            f"temporal_order_6{variant}", {"a": 0.5, "b": 0.1}[variant], per_step=False,
            tolerance=0.3, stop="st3", stop_error=0.1, options={"variant": variant},
            paper={"table": "Table 9", "sequences": after, "wrong_of_2560": wrong},
        )
    return define


_DEFINITIONS = {
    "1": _exp1,
    "2a": _exp2("2a"), "2b": _exp2("2b"), "2c": _exp2("2c"),
    "3a": _exp3("a"), "3b": _exp3("b"), "3c": _exp3("c"),
    "4": _exp4, "5": _exp5,
    "6a": _exp6("a"), "6b": _exp6("b"),
}
EXPERIMENTS = tuple(_DEFINITIONS)

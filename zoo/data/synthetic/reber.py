"""The embedded Reber grammar of Hochreiter & Schmidhuber 1997 (Section 5.1, Exp. 1).

Symbols: the seven letters of `SYMBOLS` = "BTPSXVE", coded one-hot in that
order (B is unit 0, E is unit 6); the net has 7 inputs and 7 outputs.

The Reber grammar. The paper draws it as a figure; the states below are
the standard Cleeremans/Fahlman automaton it refers to (reconstructed, not
read from the figure). A string starts with B, walks the automaton and
ends with E:

    state 0: T -> 1  or  P -> 2
    state 1: S -> 1  or  X -> 3
    state 2: T -> 2  or  V -> 4
    state 3: X -> 2  or  S -> end
    state 4: P -> 3  or  V -> end
    end:     E

The embedded grammar wraps one such string: B, then T or P, then a whole
Reber string (B ... E), then the same T or P again, then E. The shortest
embedded strings have 9 symbols (e.g. BTBTXSETE). Every choice, the
wrapping letter included, is taken with probability 0.5.

The task: read one symbol per step and predict the next one at every step;
activations are reset after each string. `reber_sequence` gives the inputs
(all symbols but the last) and one-hot targets (all symbols but the
first); the paper does not spell out its target coding, and one-hot next
symbols are the usual reading. Because the grammar branches, the paper
judges a string differently: after every prefix, the output units of all
the symbols the grammar allows next must be the most active ones. `possible_next` and
`reber_possible_targets` give those symbols. Only the symbol that closes
the embedding (the second T or P) needs a long memory: it must repeat the
second symbol of the string.

Data: 256 training and 256 test strings, no test string being one of the
training strings; training strings are presented in random order.
`reber_train_test` draws distinct strings until both sets are full and
splits them at random, so that both sets follow the same distribution.
"""

import numpy as np

SYMBOLS = "BTPSXVE"

_END = 5  # the Reber automaton's state after which only E may follow
# Reber automaton: state -> its two (symbol, next state) choices.
TRANSITIONS = {
    0: (("T", 1), ("P", 2)),
    1: (("S", 1), ("X", 3)),
    2: (("T", 2), ("V", 4)),
    3: (("X", 2), ("S", _END)),
    4: (("P", 3), ("V", _END)),
}


def _moves(state):
    """The embedded automaton: {symbol: next state} from `state`.

    A state inside the embedding is (wrapping letter, inner state), so that
    the closing letter can be required to repeat the opening one.
    """
    if state == "start":
        return {"B": "wrap"}
    if state == "wrap":
        return {"T": ("T", "B"), "P": ("P", "B")}
    if state == "final":
        return {"E": "done"}
    if state == "done":
        return {}
    wrap, inner = state
    if inner == "B":
        return {"B": (wrap, 0)}
    if inner == _END:
        return {"E": (wrap, "close")}
    if inner == "close":
        return {wrap: "final"}
    return {symbol: (wrap, after) for symbol, after in TRANSITIONS[inner]}


def embedded_reber_string(rng):
    """One embedded Reber string; every two-way choice has probability 0.5.

    Args:
        rng: A `numpy.random.Generator`.

    Returns:
        A `str` over `SYMBOLS`, at least 9 symbols long.
    """
    symbols, state = [], "start"
    while state != "done":
        moves = list(_moves(state).items())
        choice = int(rng.integers(0, len(moves))) if len(moves) > 1 else 0
        symbol, state = moves[choice]
        symbols.append(symbol)
    return "".join(symbols)


def is_embedded_reber(string):
    """Whether the embedded Reber grammar accepts `string`."""
    state = "start"
    for symbol in string:
        state = _moves(state).get(symbol)
        if state is None:
            return False
    return state == "done"


def _check(string):
    if not isinstance(string, str) or not is_embedded_reber(string):
        raise ValueError(
            "Argument `string` must be an embedded Reber string (B, T|P, "
            f"B...E, the same T|P, E). Received: string={string!r}"
        )


def possible_next(string):
    """The symbols the grammar allows after each proper prefix of `string`.

    Args:
        string: An embedded Reber string of length L.

    Returns:
        A list of L - 1 sets: entry i holds the symbols allowed after
        `string[: i + 1]` (so `string[i + 1]` is always one of them).
    """
    _check(string)
    allowed, state = [], "start"
    for symbol in string[:-1]:
        state = _moves(state)[symbol]
        allowed.append(set(_moves(state)))
    return allowed


def _one_hot(symbols):
    codes = np.zeros((len(symbols), len(SYMBOLS)), dtype="float32")
    codes[np.arange(len(symbols)), [SYMBOLS.index(s) for s in symbols]] = 1.0
    return codes


def reber_sequence(string):
    """Next-symbol inputs and targets of one embedded Reber string.

    Args:
        string: An embedded Reber string of length L.

    Returns:
        `(inputs, targets)`: float32 `(L - 1, 7)` one-hot codes of
        `string[:-1]` and of `string[1:]`.
    """
    _check(string)
    return _one_hot(string[:-1]), _one_hot(string[1:])


def reber_possible_targets(string):
    """Multi-hot `(L - 1, 7)` float32: the allowed next symbols per step."""
    targets = np.zeros((len(string) - 1, len(SYMBOLS)), dtype="float32")
    for step, symbols in enumerate(possible_next(string)):
        targets[step, [SYMBOLS.index(s) for s in symbols]] = 1.0
    return targets


def reber_train_test(rng, train_size=256, test_size=256):
    """Disjoint training and test sets of distinct embedded Reber strings.

    Strings are drawn until `train_size + test_size` distinct ones are
    found; they are then shuffled and split, so no test string is a
    training string and both sets come from the same distribution.

    Args:
        rng: A `numpy.random.Generator`.
        train_size, test_size: Set sizes (256 each in the paper); at least 0.

    Returns:
        `(train, test)`: two lists of `str`.
    """
    for name, size in (("train_size", train_size), ("test_size", test_size)):
        if size < 0:
            raise ValueError(
                f"Argument `{name}` must be at least 0. Received: {name}={size}"
            )
    found = {}  # a dict keeps the order of first appearance
    while len(found) < train_size + test_size:
        found.setdefault(embedded_reber_string(rng), None)
    pool = list(found)
    strings = [pool[i] for i in rng.permutation(len(pool))]
    return strings[:train_size], strings[train_size:]

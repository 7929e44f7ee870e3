"""What each gate does on each word of a sentence: a picture and the memory's story.

`python -m zoo.diagnostics.gates MODEL "TEXT" [--out PNG] [--units K] [--first N]`

MODEL is a shipped model's name, a training run directory, a `.keras` file
or a SavedModel version directory (read through its `gates` signature, no
zoo code involved). For TEXT the command

* draws, for every recurrent layer and direction, a token-by-unit heatmap
  of every gate and state the cell has (i, f, o and c for the LSTM family;
  z, r and h for the GRU; the input and output gates and the CEC state s_c
  for the 1997 LSTM...), the K units that moved the prediction most first
  (gradient × activation, `zoo.diagnostics.text_gates`);
* answers the question the LSTM is taught with ("John wanted to visit his
  friend's house, but he couldn't find the address. He spent hours
  searching for it."): which memory units took in the first words and
  still hold them at the last. A memory of the form

      m_t = keep_t ⊙ m_{t-1} + write_t

  (the LSTM's c_t = f_t ⊙ c_{t-1} + i_t ⊙ z_t, the 1997 CEC's s_c(t) =
  s_c(t-1) + y^in(t) g(net_c(t)) with keep = 1, the GRU's h_t = z_t ⊙
  h_{t-1} + (1 - z_t) ⊙ h̃_t, minGRU/minLSTM's h_t = a_t ⊙ h_{t-1} + b_t)
  holds of word k at the last word T exactly write_k ⊙ Π_{t=k+1..T} keep_t.
  The report lists the units holding the most of the first N words, with
  how much each wrote, the share of it kept (the product of the forget
  gates), and, where the cell has one, the output gate at the last word.
"""

import argparse
import pathlib
import sys

import numpy as np

# The quantities drawn on a 0..1 scale (and the GRU's z); every other one on
# a scale centred on 0.
GATES = {"i", "f", "o", "r", "y_in", "y_out", "a"}
MEANINGS = {
    "i": "input gate: how much of z enters the cell",
    "f": "forget gate: 1 keeps the cell's memory, 0 erases it",
    "z": "block input: what may enter the cell",
    "gru z": "update gate: 1 keeps h, 0 takes h_tilde",
    "o": "output gate: how much of the memory is shown",
    "c": "cell state: the memory",
    "y": "block output y = o * tanh(c)",
    "r": "reset gate: how much of h the candidate sees",
    "h_tilde": "candidate state",
    "h": "hidden state",
    "y_in": "1997 input gate (one per block)",
    "y_out": "1997 output gate (one per block)",
    "g": "1997 cell input g(net_c)",
    "s_c": "1997 CEC state: the memory, self-weight 1",
    "y_c": "1997 cell output",
    "n": "normalizer state",
    "a": "share of h kept",
    "b": "what the input writes",
}


def load_gates(model, texts):
    """`text_gates` for MODEL (see the module docstring) as NumPy arrays."""
    import tensorflow as tf

    path = pathlib.Path(model)
    if (path / "saved_model.pb").is_file():
        loaded = tf.saved_model.load(str(path))
        if "gates" not in loaded.signatures:
            raise ValueError(
                f"MODEL={model!r} is a SavedModel without a 'gates' signature; export "
                f"it again (python -m training.republish {path.parent})")
        result = loaded.signatures["gates"](text=tf.constant(texts))
    else:
        import zoo.pretrained
        from zoo.diagnostics.text_gates import text_gates

        keras_model = zoo.pretrained.load_argument(
            model, others=["a SavedModel version directory"])
        result = text_gates(keras_model, tf.constant(texts))
    return {key: value.numpy() for key, value in result.items()}


def panels(gates):
    """`{(layer, direction): {quantity: array}}` of a `load_gates` result."""
    found = {}
    for key, value in gates.items():
        if key.count("/") == 2:
            layer, direction, name = key.split("/")
            found.setdefault((layer, direction), {})[name] = value
    return found


def tokens_of(gates, layer, row=0):
    """The real tokens a layer read, as strings."""
    decoder = layer.startswith("decoder")
    tokens = gates["target_tokens" if decoder else "tokens"][row]
    count = gates["target_token_count" if decoder else "token_count"][row]
    return [token.decode("utf-8") for token in tokens[:count]]


def memory_terms(values):
    """`(memory, keep, write, output_gate)` per token of one layer and
    direction, `(T, units)` each (output_gate None where the cell has none),
    or None for a cell whose memory is not of the form keep ⊙ m + write."""
    if {"c", "i", "f", "z"} <= set(values):  # LSTM family, sLSTM
        return values["c"], values["f"], values["i"] * values["z"], values.get("o")
    if {"s_c", "y_in", "g"} <= set(values):  # 1997 LSTM: blocks of cells
        cells_per_block = values["s_c"].shape[-1] // values["y_in"].shape[-1]
        gate_in = np.repeat(values["y_in"], cells_per_block, axis=-1)
        output = values.get("y_out")
        if output is not None:
            output = np.repeat(output, cells_per_block, axis=-1)
        return values["s_c"], np.ones_like(values["s_c"]), gate_in * values["g"], output
    if {"z", "h_tilde", "h"} <= set(values):  # GRU (Keras's convention)
        return values["h"], values["z"], (1 - values["z"]) * values["h_tilde"], None
    if {"a", "b", "h"} <= set(values):  # minGRU, minLSTM
        return values["h"], values["a"], values["b"], None
    return None


def first_words_held(values, count, first=1, backward=False, top=5):
    """The units holding most of the first `first` words at the last word.

    Args:
        values: `{quantity: (T_padded, width)}` of one layer and direction
            for one text.
        count: The number of real tokens.
        first: How many words from the start of the reading count as "the
            first words".
        backward: Whether the direction reads from the last token to the
            first (then its first words are the text's last).
        top: How many units to report.

    Returns:
        A list of dicts (unit, written, kept, held, share, shown), most held
        first; None for a cell without such a memory.
    """
    terms = memory_terms({k: v[:count] for k, v in values.items()})
    if terms is None:
        return None
    memory, keep, write, output = terms
    if backward:  # in reading order
        memory, keep, write = memory[::-1], keep[::-1], write[::-1]
        output = None if output is None else output[::-1]
    # Of word k at the last word: write_k ⊙ Π_{t>k} keep_t.
    later = np.concatenate([np.cumprod(keep[::-1], axis=0)[::-1][1:],
                            np.ones_like(keep[:1])], axis=0)
    contributions = write * later
    held = contributions[:first].sum(axis=0)
    total = np.abs(contributions).sum(axis=0) + 1e-12
    order = np.argsort(-np.abs(held))[:top]
    return [{"unit": int(unit),
             "written": float(write[:first, unit].sum()),
             "kept": float(later[first - 1, unit]),
             "held": float(held[unit]),
             "share": float(abs(held[unit]) / total[unit]),
             "memory": float(memory[-1, unit]),
             "shown": None if output is None else float(output[-1, unit])}
            for unit in order]


def is_gate(name, values):
    """Whether `name` is a gate (0..1) in the cell whose quantities are `values`."""
    return name in GATES or (name == "z" and "h_tilde" in values)  # the GRU's z


def meaning(name, values):
    if name == "z" and "h_tilde" in values:
        return MEANINGS["gru z"]
    return MEANINGS.get(name, name)


def unit_order(values, importance, width):
    """Units (or 1997 blocks, for the narrower gates) by importance, most first."""
    if width == importance.shape[-1]:
        return np.argsort(-importance)
    per_block = importance.reshape(width, -1).sum(axis=-1)
    return np.argsort(-per_block)


def draw(gates, out, units=24, row=0, title=None):
    """Writes the heatmaps of one text to `out` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = panels(gates)
    # Layer by layer, the forward direction first.
    columns = sorted(found, key=lambda key: (key[0], key[1] != "forward"))
    quantities = max(len([q for q in found[c] if q != "importance"]) for c in columns)
    longest = max(len(tokens_of(gates, layer, row)) for layer, _ in columns)
    figure, axes = plt.subplots(
        quantities, len(columns), squeeze=False,
        figsize=(max(4.0, 0.38 * longest + 2.2) * len(columns), 2.3 + 0.11 * units * quantities))
    for column, (layer, direction) in enumerate(columns):
        values = found[(layer, direction)]
        tokens = tokens_of(gates, layer, row)
        importance = values.get("importance", np.zeros((1, 1)))[row]
        names = [q for q in values if q != "importance"]
        for index in range(quantities):
            axis = axes[index][column]
            if index >= len(names):
                axis.axis("off")
                continue
            name = names[index]
            value = values[name][row, : len(tokens)]
            order = unit_order(values, importance, value.shape[-1])[:units]
            shown = value[:, order].T
            if is_gate(name, values):
                image = axis.imshow(shown, aspect="auto", cmap="viridis", vmin=0, vmax=1)
            else:
                limit = max(float(np.abs(shown).max()), 1e-6)
                image = axis.imshow(shown, aspect="auto", cmap="RdBu_r", vmin=-limit,
                                    vmax=limit)
            axis.set_title(f"{layer} {direction}: {name} ({meaning(name, values)})",
                           fontsize=8, loc="left")
            axis.set_xticks(range(len(tokens)))
            axis.set_xticklabels(tokens, rotation=60, ha="right", fontsize=7)
            axis.set_yticks(range(len(order)))
            axis.set_yticklabels([str(u) for u in order], fontsize=5)
            axis.set_ylabel("unit (most important first)", fontsize=6)
            figure.colorbar(image, ax=axis, fraction=0.02, pad=0.01)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.97 if title else 1))
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def report(gates, first=1, row=0, top=5):
    """The memory's story for one text, as printed lines."""
    lines = []
    found = panels(gates)
    for layer, direction in sorted(found, key=lambda key: (key[0], key[1] != "forward")):
        values = found[(layer, direction)]
        tokens = tokens_of(gates, layer, row)
        backward = direction == "backward"
        reading = tokens[::-1] if backward else tokens
        held = first_words_held({k: v[row] for k, v in values.items() if k != "importance"},
                                len(tokens), first, backward, top)
        heading = (f"{layer} {direction}: of {' '.join(reading[:first])!r} "
                   f"(read first) at {reading[-1]!r} (read last)")
        if held is None:
            lines.append(f"{heading}: this cell's memory is not of the form "
                         "keep * m + write; no story to tell")
            continue
        lines.append(heading)
        lines.append("  unit   wrote   kept    holds  share of memory  memory  output gate")
        for unit in held:
            shown = "-" if unit["shown"] is None else f"{unit['shown']:.2f}"
            lines.append(f"  {unit['unit']:4d} {unit['written']:+7.3f} {unit['kept']:6.3f} "
                         f"{unit['held']:+8.3f} {unit['share']:16.0%} {unit['memory']:+7.3f} "
                         f"{shown:>12}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m zoo.diagnostics.gates",
        description="Draw every gate of a model on each token of TEXT, and tell which "
                    "memory units keep the first words to the last.")
    parser.add_argument("model", metavar="MODEL", help="a shipped model's name, a run "
                        "directory, a .keras file or a SavedModel version directory")
    parser.add_argument("text", metavar="TEXT", help="the text to read")
    parser.add_argument("--out", default="gates.png", help="the PNG to write (gates.png)")
    parser.add_argument("--units", type=int, default=24,
                        help="units per heatmap, the most important first (24)")
    parser.add_argument("--first", type=int, default=1,
                        help="how many words count as the first words (1)")
    args = parser.parse_args(argv)
    for name in ("units", "first"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1. Received: --{name}={getattr(args, name)}")
    if not args.text.strip():
        parser.error("TEXT must hold at least one word. Received: TEXT=" + repr(args.text))
    try:
        gates = load_gates(args.model, [args.text])
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if gates["token_count"][0] == 0:
        parser.error(f"TEXT has no token the model reads. Received: TEXT={args.text!r}")
    count = min(args.first, int(gates["token_count"][0]))
    path = draw(gates, args.out, args.units, title=f"{args.model}: {args.text}")
    print("\n".join(report(gates, count)))
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

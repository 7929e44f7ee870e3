"""`python -m zoo`: a tour of the zoo's layers.

Builds every recurrent layer of the catalogue (`zoo.layers.catalog`), and
every variant of the LSTM and GRU families, on one small batch and prints
its paper, how many weights it has, and the shapes it returns; then checks
that variant "keras" is exactly `keras.layers.LSTM`.
"""

import keras
import numpy as np

from zoo.layers import GRU, LSTM, VARIANTS, OriginalLSTM
from zoo.layers.catalog import CATALOG, recurrent_layer

BATCH, STEPS, FEATURES, UNITS = 2, 10, 8, 16


def tour_layers():
    """(name, paper, layer) for every family, variant and catalogued cell."""
    layers = [("original_lstm (4 blocks of 4)", CATALOG["original_lstm"].paper,
               OriginalLSTM(4, block_size=4))]
    layers += [(f"lstm (variant={v!r})", CATALOG["lstm"].paper, LSTM(UNITS, variant=v))
               for v in VARIANTS]
    layers += [
        ("gru (reset_after=True)", CATALOG["gru"].paper, GRU(UNITS)),
        ("gru (reset_after=False)", CATALOG["gru"].paper, GRU(UNITS, reset_after=False)),
    ]
    layers += [
        (name, entry.paper, recurrent_layer(name, UNITS))
        for name, entry in CATALOG.items()
        if entry.era not in ("1997", "modern")
    ]
    return layers


def tour():
    x = np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES))
    x = x.astype("float32")
    print(f"Input: batch {BATCH}, {STEPS} steps, {FEATURES} features; "
          f"{UNITS} units.\n")
    print(f"{'cell':<30} {'paper':<44} {'weights':>7}  {'sequence output':<15} states")
    for title, paper, layer in tour_layers():
        layer.return_sequences = layer.return_state = True
        output, *states = layer(x)
        shapes = ", ".join(str(tuple(s.shape)) for s in states)
        print(f"{title:<30} {paper[:44]:<44} {layer.count_params():>7}  "
              f"{str(tuple(output.shape)):<15} {shapes}")

    reference = keras.layers.LSTM(UNITS)
    zoo_lstm = LSTM(UNITS)
    reference(x), zoo_lstm(x)
    zoo_lstm.set_weights(reference.get_weights())
    gap = np.max(np.abs(keras.ops.convert_to_numpy(zoo_lstm(x) - reference(x))))
    print(f"\nzoo LSTM vs keras.layers.LSTM with shared weights: "
          f"max |difference| = {gap:.1e}")


if __name__ == "__main__":
    tour()

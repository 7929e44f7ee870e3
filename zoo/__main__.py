"""`python -m zoo`: a tour of the zoo's layers.

Builds every recurrent layer of the zoo on one small batch and prints what
it is, how many weights it has, and the shapes it returns, then checks that
variant "keras" is exactly `keras.layers.LSTM`.
"""

import keras
import numpy as np

from zoo.layers import GRU, LSTM, VARIANTS, OriginalLSTM

BATCH, STEPS, FEATURES, UNITS = 2, 10, 8, 16


def tour():
    x = np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES))
    x = x.astype("float32")
    layers = [("OriginalLSTM(4 blocks of 4)", OriginalLSTM(4, block_size=4))]
    layers += [(f"LSTM(variant={v!r})", LSTM(UNITS, variant=v)) for v in VARIANTS]
    layers += [
        ("GRU(reset_after=True)", GRU(UNITS)),
        ("GRU(reset_after=False)", GRU(UNITS, reset_after=False)),
    ]
    print(f"Input: batch {BATCH}, {STEPS} steps, {FEATURES} features; "
          f"{UNITS} units.\n")
    print(f"{'layer':<28} {'weights':>8}  {'sequence output':<16} states")
    for title, layer in layers:
        layer.return_sequences = layer.return_state = True
        output, *states = layer(x)
        shapes = ", ".join(str(tuple(s.shape)) for s in states)
        print(f"{title:<28} {layer.count_params():>8}  "
              f"{str(tuple(output.shape)):<16} {shapes}")

    reference = keras.layers.LSTM(UNITS)
    zoo_lstm = LSTM(UNITS)
    reference(x), zoo_lstm(x)
    zoo_lstm.set_weights(reference.get_weights())
    gap = np.max(np.abs(keras.ops.convert_to_numpy(zoo_lstm(x) - reference(x))))
    print(f"\nzoo LSTM vs keras.layers.LSTM with shared weights: "
          f"max |difference| = {gap:.1e}")


if __name__ == "__main__":
    tour()

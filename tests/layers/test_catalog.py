"""zoo.layers.catalog: layers by name, as task configs choose them."""

import pytest

from zoo.layers import GRU, LSTM, OriginalLSTM, recurrent_layer


def test_each_family_by_name_with_its_options():
    lstm = recurrent_layer("lstm", 8, {"variant": "cifg"}, return_sequences=True)
    assert type(lstm) is LSTM and lstm.variant == "CIFG" and lstm.return_sequences
    gru = recurrent_layer("gru", 8, {"reset_after": False})
    assert type(gru) is GRU and not gru.reset_after
    original = recurrent_layer("original_lstm", 8, {"block_size": 4, "truncated_gradient": False})
    assert type(original) is OriginalLSTM
    assert (original.blocks, original.block_size, original.units) == (2, 4, 8)
    assert not original.cell.truncated_gradient


@pytest.mark.parametrize(
    "args, message",
    [
        (("rnn", 8, None), "cell='rnn'"),
        (("original_lstm", 6, {"block_size": 4}), "units=6, block_size=4"),
        (("gru", 8, {"variant": "NP"}), "Unrecognized keyword.*'variant'"),
    ],
)
def test_bad_choices_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        recurrent_layer(*args)


def test_the_tour_builds_every_catalogued_cell(capsys):
    from zoo.__main__ import tour
    from zoo.layers.catalog import CATALOG

    tour()
    printed = capsys.readouterr().out
    rows = {line.split(" ")[0] for line in printed.splitlines()[3:]}
    assert set(CATALOG) <= rows
    assert "max |difference| = 0.0e+00" in printed

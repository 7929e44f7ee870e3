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


@pytest.mark.tensorflow_only  # a command; on JAX it builds 40 layers op by op
def test_the_tour_builds_every_catalogued_cell(capsys):
    from zoo.__main__ import tour
    from zoo.layers.catalog import CATALOG

    tour()
    printed = capsys.readouterr().out
    rows = {line.split(" ")[0] for line in printed.splitlines()[3:]}
    assert set(CATALOG) <= rows
    assert "max |difference| = 0.0e+00" in printed


def test_every_catalogued_cell_is_exported_and_documented():
    import pathlib

    import zoo.layers
    from zoo.layers.catalog import CATALOG

    cells_md = (pathlib.Path(__file__).parents[2] / "docs" / "cells.md").read_text()
    for name, entry in CATALOG.items():
        assert getattr(zoo.layers, entry.layer.__name__) is entry.layer
        assert entry.layer.__module__.startswith("zoo.layers.")
        assert f"| `{name}` | `{entry.layer.__name__}` |" in cells_md
        if entry.era in ("classic", "revival"):
            # Its own section, and its paper's year in its module's citation.
            sections = cells_md.split("has its section below")[1]
            assert f"`{entry.layer.__name__}`" in sections
            module_doc = __import__(entry.layer.__module__, fromlist=["_"]).__doc__
            assert entry.paper.split()[-1] in module_doc

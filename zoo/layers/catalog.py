"""The zoo's recurrent layers by name: one table that every task reads.

`CATALOG` maps a cell's name (as task configs, `--set model.cell=...` and
the tuner's search space write it) to its layer class and its paper. The
text classifier, the translator, the tuner's search space, `python -m zoo`
and the shared layer tests all read this table, so adding a cell is one
file (its cell, then its layer), its test, and one line here.
"""

import dataclasses
from typing import Callable, Optional

from zoo.layers.gru import GRU
from zoo.layers.lstm import LSTM
from zoo.layers.original_lstm import OriginalLSTM

# --- imports: classic cells A ---
# --- imports: classic cells B ---
# --- imports: classic cells C ---
# --- imports: classic cells D ---
# --- imports: revival sLSTM ---
# --- imports: revival mLSTM ---
# --- imports: revival minGRU/minLSTM ---


@dataclasses.dataclass(frozen=True)
class Entry:
    """One cell of the catalogue.

    Attributes:
        layer: The layer class; `layer(units, **cell_options,
            **layer_options)` builds it unless `build` is given.
        paper: Its paper, as "Authors Year" (the layer's module docstring
            cites it in full).
        era: "1997", "modern" (the LSTM and GRU of 2000-2017), "classic"
            (the gated cells of 2015-2022) or "revival" (2024).
        build: For a layer whose first argument is not `units`: a function
            `(units, cell_options, **layer_options) -> layer`.
    """

    layer: type
    paper: str
    era: str
    build: Optional[Callable] = None


def _original_lstm(units, options, **layer_options):
    # `units` cells in blocks of `block_size` (1 by default).
    block_size = options.pop("block_size", 1)
    if units % block_size:
        raise ValueError(
            f"`units` must be a multiple of `block_size` for original_lstm. "
            f"Received: units={units}, block_size={block_size}"
        )
    return OriginalLSTM(units // block_size, block_size, **options, **layer_options)


CATALOG = {
    "original_lstm": Entry(OriginalLSTM, "Hochreiter & Schmidhuber 1997", "1997", _original_lstm),
    "lstm": Entry(LSTM, "Gers et al. 2000; Greff et al. 2017", "modern"),
    "gru": Entry(GRU, "Cho et al. 2014", "modern"),
    # --- catalog: classic cells A ---
    # --- catalog: classic cells B ---
    # --- catalog: classic cells C ---
    # --- catalog: classic cells D ---
    # --- catalog: revival sLSTM ---
    # --- catalog: revival mLSTM ---
    # --- catalog: revival minGRU/minLSTM ---
}
CELLS = tuple(CATALOG)


def recurrent_layer(cell, units, cell_options=None, **layer_options):
    """Builds a zoo recurrent layer from a task config.

    Args:
        cell: A name of `CATALOG`, e.g. "lstm" (`cell_options` may set
            `variant`), "gru" (e.g. `reset_after`) or "original_lstm"
            (`units` cells in blocks of `cell_options["block_size"]`, 1 by
            default).
        units: Width of the layer's output.
        cell_options: The family's own arguments.
        **layer_options: Arguments every layer takes (`return_sequences`,
            `dropout`, `name`, ...).
    """
    if cell not in CATALOG:
        raise ValueError(f"Argument `cell` must be one of {CELLS}. Received: cell={cell!r}")
    entry = CATALOG[cell]
    options = dict(cell_options or {})
    if entry.build is not None:
        return entry.build(units, options, **layer_options)
    return entry.layer(units, **options, **layer_options)

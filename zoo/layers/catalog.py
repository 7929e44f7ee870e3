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

# The classic gated cells of 2015-2022, one file per paper.
from zoo.layers.classic.intersection_rnn import IntersectionRNN
from zoo.layers.classic.janet import JANET
from zoo.layers.classic.mgu import MGU
from zoo.layers.classic.minimal_rnn import MinimalRNN
from zoo.layers.classic.ugrnn import UGRNN
from zoo.layers.classic.indrnn import IndRNN
from zoo.layers.classic.ligru import LiGRU
from zoo.layers.classic.multiplicative_lstm import MultiplicativeLSTM
from zoo.layers.classic.rhn import RHN
from zoo.layers.classic.scrn import SCRN, scrn_of_width
from zoo.layers.classic.atr import ATR
from zoo.layers.classic.cfn import CFN
from zoo.layers.classic.lem import LEM
from zoo.layers.classic.mut import MUT1, MUT2, MUT3
from zoo.layers.classic.nas import NAS
from zoo.layers.classic.antisymmetric_rnn import AntisymmetricRNN
from zoo.layers.classic.cornn import CoRNN
from zoo.layers.classic.fastgrnn import FastGRNN, FastRNN
from zoo.layers.classic.ran import RAN
from zoo.layers.classic.star import STAR
# The 2024 revival.
from zoo.layers.slstm import SLSTM
from zoo.layers.mlstm import MLSTM
from zoo.layers.min_rnn import MinGRU, MinLSTM


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
    # The classic gated cells (docs/cells.md).
    "mgu": Entry(MGU, "Zhou, Wu, Zhang & Zhou 2016", "classic"),
    "janet": Entry(JANET, "van der Westhuizen & Lasenby 2018", "classic"),
    "ugrnn": Entry(UGRNN, "Collins, Sohl-Dickstein & Sussillo 2017", "classic"),
    "intersection_rnn": Entry(IntersectionRNN, "Collins, Sohl-Dickstein & Sussillo 2017", "classic"),
    "minimal_rnn": Entry(MinimalRNN, "Chen 2017", "classic"),
    "indrnn": Entry(IndRNN, "Li, Li, Cook, Zhu & Gao 2018", "classic"),
    "scrn": Entry(SCRN, "Mikolov et al. 2015", "classic", scrn_of_width),
    "rhn": Entry(RHN, "Zilly et al. 2017", "classic"),
    "multiplicative_lstm": Entry(MultiplicativeLSTM, "Krause, Lu, Murray & Renals 2017", "classic"),
    "ligru": Entry(LiGRU, "Ravanelli, Brakel, Omologo & Bengio 2018", "classic"),
    "mut1": Entry(MUT1, "Jozefowicz, Zaremba & Sutskever 2015", "classic"),
    "mut2": Entry(MUT2, "Jozefowicz, Zaremba & Sutskever 2015", "classic"),
    "mut3": Entry(MUT3, "Jozefowicz, Zaremba & Sutskever 2015", "classic"),
    "nas": Entry(NAS, "Zoph & Le 2017", "classic"),
    "atr": Entry(ATR, "Zhang, Xiong, Su, Lin & Zhang 2018", "classic"),
    "cfn": Entry(CFN, "Laurent & von Brecht 2017", "classic"),
    "lem": Entry(LEM, "Rusch, Mishra, Erichson & Mahoney 2022", "classic"),
    "ran": Entry(RAN, "Lee, Levy & Zettlemoyer 2017", "classic"),
    "star": Entry(STAR, "Turkoglu, D'Aronco, Wegner & Schindler 2021", "classic"),
    "fastrnn": Entry(FastRNN, "Kusupati, Singh, Bhatia, Kumar, Jain & Varma 2018", "classic"),
    "fastgrnn": Entry(FastGRNN, "Kusupati, Singh, Bhatia, Kumar, Jain & Varma 2018", "classic"),
    "antisymmetric_rnn": Entry(AntisymmetricRNN, "Chang, Chen, Haber & Chi 2019", "classic"),
    "cornn": Entry(CoRNN, "Rusch & Mishra 2021", "classic"),
    # The 2024 revival: xLSTM's two cells, minGRU and minLSTM.
    "slstm": Entry(SLSTM, "Beck et al. 2024", "revival"),
    "mlstm": Entry(MLSTM, "Beck et al. 2024", "revival"),
    "min_gru": Entry(MinGRU, "Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024", "revival"),
    "min_lstm": Entry(MinLSTM, "Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024", "revival"),
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

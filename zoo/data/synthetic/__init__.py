"""Tasks of the 1997 LSTM paper, generated on line, seeded and documented."""

from zoo.data.synthetic.adding import adding_batch, adding_sequence

__all__ = ["adding_batch", "adding_sequence"]

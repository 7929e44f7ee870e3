"""Models built from `zoo.layers`.

- `paper_1997.py`: the networks of Hochreiter & Schmidhuber's 1997
  experiments, as presets (plain data) and a builder.
"""

"""Data for the zoo's models.

- `synthetic/`: the 1997 LSTM paper's generated tasks (the adding problem,
  Exp. 4).
"""

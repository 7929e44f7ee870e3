"""The 1997 LSTM paper's reproduction: `python -m training.reproduce`.

Hochreiter & Schmidhuber's experiments (Section 5) trained as the paper
trains them, beside modern cells on the same tasks (`docs/reproduction.md`),
and every catalogued cell on the long-lag tasks by one modern protocol
(`docs/cells.md`):

- `__main__.py`: the command line, `python -m training.reproduce EXP`,
  checked before TensorFlow is imported.
- `reproduction.py`: the work it asks for: the trials, their stopping rules
  and tests, the summary beside the paper's figures, the JSON record.
- `experiments.py`: each experiment as data: its task, network, α, stopping
  rule, test and published figures.
- `networks.py`: the paper's networks (Table 10) as plain-data presets and
  `build_network`.
- `online_sgd.py`: `OnlineSGD`, on-line gradient descent, one update per
  sequence, compiled.
- `rtrl.py`: `TruncatedRTRL`, the paper's own rule, an update every step.
- `long_lag_table.py`: `python -m training.reproduce.long_lag_table`, every
  cell of the catalogue on the adding problem and copy memory, the table of
  `docs/cells.md`.

Kept elsewhere, on purpose:

- `zoo/data/synthetic/`, the generated long-lag tasks, stays in the
  library: `zoo.diagnostics.gradient_flow` and the `adding` task of
  `python -m training.train` use them too, and `zoo` never imports
  `training`.
- `zoo.models.sequence_regressor`, the long-lag table's model, stays in
  the library for the same reason: the `adding` task builds it too.
- `training/tasks/adding.py` stays with the other tasks: it is a
  `python -m training.train` task (the adding problem with minibatches and
  Adam), not a reproduction of the paper's protocol.

Importing this package imports nothing else, so the command line is checked
before TensorFlow's start-up.
"""

"""Data for the zoo's models.

- `classification.py`: labelled texts (sarcasm headlines, the user's
  CSV/TSV).
- `translation.py`: sentence pairs (ManyThings/Tatoeba files).
- `split.py`: deterministic train/validation splits that keep equal keys
  together.
- `errors.py`: the error a loader raises for a malformed file (file, line,
  what was expected).
- `download.py`: fetching a public data set into the cache, or saying
  where to get it.
- `synthetic/`: the 1997 LSTM paper's generated tasks, one module per
  experiment: embedded Reber grammar (1), long time lags (2a-2c), the
  two-sequence problem (3a-3c), adding (4), multiplication (5), temporal
  order (6a, 6b); `pad_batch` puts generated sequences in one batch.
"""

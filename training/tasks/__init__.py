"""Training tasks: each turns a resolved config into data, a model and metrics.

A task module has `DEFAULTS` (its config with default values, kept as plain
data in `training/defaults.py`), `load_data` and a run class; `TASKS` maps
the config's `task` key to it.
"""

from training.tasks import adding, classification, translation

TASKS = {"classification": classification, "translation": translation, "adding": adding}

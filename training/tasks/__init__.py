"""Training tasks: each turns a resolved config into data, a model and metrics.

A task module has `DEFAULTS` (its config with default values, kept as plain
data in `training/defaults.py`), `load_data` and a run class; `TASKS` maps
the config's `task` key to it. A run class may add `callbacks()`, the
Keras callbacks its training needs besides the run's own (the language
model's reset of its carried states).
"""

from training.tasks import adding, classification, language_model, translation

TASKS = {
    "classification": classification,
    "translation": translation,
    "adding": adding,
    "language_model": language_model,
}

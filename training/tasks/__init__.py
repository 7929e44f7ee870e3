"""Training tasks: each turns a resolved config into data, a model and metrics.

Each module holds one `TaskRun` subclass (the contract, declared in
`task_run.py`) with its `DEFAULTS` and `load_data`; `TASKS` maps the
config's `task` key to that class.
"""

from training.tasks.adding import AddingRun
from training.tasks.classification import ClassificationRun
from training.tasks.language_model import LanguageModelRun
from training.tasks.translation import TranslationRun

TASKS = {
    "classification": ClassificationRun,
    "translation": TranslationRun,
    "adding": AddingRun,
    "language_model": LanguageModelRun,
}

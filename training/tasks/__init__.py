"""Training tasks: each turns a resolved config into data, a model and metrics.

Each module has `DEFAULTS`, `load_data` and one `TaskRun` subclass (the
contract, declared in `task_run.py`); `TASKS` maps the config's `task` key
to the module and `RUN_CLASSES` to its run class.
"""

from training.tasks import adding, classification, language_model, translation

TASKS = {
    "classification": classification,
    "translation": translation,
    "adding": adding,
    "language_model": language_model,
}

RUN_CLASSES = {
    "classification": classification.ClassificationRun,
    "translation": translation.TranslationRun,
    "adding": adding.AddingRun,
    "language_model": language_model.LanguageModelRun,
}

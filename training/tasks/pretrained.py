"""`model.pretrained`: the language model a run starts from (ULMFiT).

A classifier takes a word-level language model's vocabulary, embedding and
recurrent layers; a language model takes all of another's, to go on
training it on other text (ULMFiT's fine-tuning of the language model on
the target task's text). The model is named as `zoo.pretrained` names it:
`{name: MODEL, base: DIR}`, `base` defaulting to `savedmodels/`.
"""

from training.config import ConfigError

# The language model's settings a run takes over.
INHERITED = ("cell", "cell_options", "units", "num_layers", "embedding_dim")


def load_language_model(spec, level):
    """The `TextLanguageModel` that `spec` (`model.pretrained`) names, at
    tokenizer level `level`; a ConfigError names what is wrong."""
    import zoo.pretrained
    from zoo.models.language_model_preprocessor import TextLanguageModel

    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or (
            set(spec) - {"name", "base"}):
        raise ConfigError(
            "model.pretrained must be null or {name: MODEL, base: DIR} (base optional: "
            f"savedmodels/ by default). Received: {spec!r}")
    try:
        model = zoo.pretrained.load(spec["name"], base=spec.get("base"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"model.pretrained: {error}") from None
    if not isinstance(model, TextLanguageModel) or model.tokenizer.level != level:
        raise ConfigError(
            f"model.pretrained: {spec['name']!r} is not a {level}-level language model "
            f"(train one with task: language_model and preprocessing.level: {level}). "
            f"Received: {type(model).__name__}"
            + (f" at level {model.tokenizer.level!r}"
               if isinstance(model, TextLanguageModel) else ""))
    return model


def take_sizes(config, language_model, keys=INHERITED):
    """Sets `config["model"][k]` to the language model's for each key,
    saying which of them changed."""
    taken = {name: getattr(language_model, name) for name in keys}
    changed = {k: v for k, v in taken.items() if config["model"][k] != v}
    if changed:
        print(f"note: model.pretrained sets {changed} (the language model's)", flush=True)
    config["model"].update(taken)

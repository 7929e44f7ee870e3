"""Every training task's default config, as plain data.

A config file and `--set` overrides are laid over these (`training.config`),
and a key a task does not know is an error. They live here, apart from the
tasks' code (`training/tasks/`), so that a command can check a config
against them in a moment, before it imports TensorFlow.
"""

CLASSIFICATION = {
    "task": "classification",
    "data": {
        "format": "sarcasm",  # sarcasm | table
        "path": None,  # None: download the sarcasm set (table needs a path)
        "validation_fraction": 0.1,
        "split_seed": 1337,
        "text_column": "text",  # table format only: a header name or a 0-based index
        "label_column": "label",
        "delimiter": None,  # None: sniffed from the file (tab or comma)
        "header": True,
        "quoting": None,  # none | csv; None: none for tab-separated, csv otherwise
        "class_names": None,  # None: the sorted labels found
    },
    "preprocessing": {
        "max_tokens": 20000,
        "sequence_length": 32,
        "standardize": "lower_and_strip_punctuation",
    },
    "model": {
        "cell": "lstm",
        "cell_options": {},
        "units": 64,
        "num_layers": 1,
        "bidirectional": True,
        "embedding_dim": 128,
        "pooling": "attention",
        "attention_units": 64,
        "dropout": 0.3,
        "recurrent_dropout": 0.0,
        "token_dropout": 0.0,
        "ensemble_size": 1,  # K > 1: K members trained together, probabilities averaged
        # {name: MODEL, base: DIR}: start from a word-level language model's
        # embedding and recurrent layers (ULMFiT); None: from scratch
        "pretrained": None,
    },
    "training": {
        "epochs": 4,
        "batch_size": 64,
        "learning_rate": 0.001,
        "lr_schedule": "constant",  # constant | cosine (to 0 over all epochs)
        "clipnorm": None,
        # ULMFiT: each layer below the head learns this many times slower
        # than the one above (1: all alike); the head trains alone in the
        # first epoch and one layer more joins each epoch (from the top)
        "discriminative_lr_factor": 1.0,
        "gradual_unfreezing": False,
        "early_stopping_patience": 2,
        "monitor": "val_accuracy",
        "seed": 1337,
    },
}


TRANSLATION = {
    "task": "translation",
    "data": {
        "path": None,  # None: download the ManyThings English-Spanish file
        "source_column": 1,  # Spanish
        "target_column": 0,  # English
        "validation_fraction": 0.1,
        "split_seed": 1337,
    },
    "preprocessing": {
        "source_vocab_size": 15000,
        "target_vocab_size": 15000,
        "sequence_length": 20,
    },
    "model": {
        "cell": "gru",
        "cell_options": {},  # {variant: ...} for lstm, {block_size: ...} for original_lstm
        "units": 256,
        "embedding_dim": 128,
        "encoder_layers": 1,
        "bidirectional_encoder": False,
        "attention": "dot",
        "dropout": 0.0,
    },
    "training": {
        "epochs": 3,
        "batch_size": 64,
        "learning_rate": 0.001,
        "lr_schedule": "constant",  # constant | cosine (to 0 over all epochs)
        "clipnorm": 1.0,
        "early_stopping_patience": 2,
        "monitor": "val_loss",
        "seed": 1337,
        "label_smoothing": 0.0,  # ε of the teacher-forcing loss (0.1 in Vaswani et al.)
        # K > 1: the final model is the mean of the last K epochs' weights
        # (checkpoint averaging), not the best epoch's
        "average_checkpoints": 1,
    },
    "evaluation": {
        "beam_width": 4,
        "length_penalty": 0.0,
        "max_sentences": 2000,  # held-out sources scored, a seeded sample (None: all)
    },
}


ADDING = {
    "task": "adding",
    "data": {
        "T": 100,  # minimal time lag T/2; lengths drawn from [T, T + T/10]
        "train_sequences": 10000,
        "validation_sequences": 1000,
        "seed": 1337,  # training data from this seed, validation from seed + 1
    },
    "model": {
        "cell": "lstm",
        "cell_options": {},
        "units": 32,
        "num_layers": 1,
        "dropout": 0.0,
    },
    "training": {
        "epochs": 10,
        "batch_size": 32,
        "learning_rate": 0.003,
        "lr_schedule": "constant",
        "clipnorm": 1.0,
        "early_stopping_patience": 3,
        "monitor": "val_loss",
        "seed": 1337,
    },
}


LANGUAGE_MODEL = {
    "task": "language_model",
    "data": {
        "format": "text",  # text: a UTF-8 file, its tail held out | sarcasm: the headlines
        "path": None,  # text needs a file (--data or data.path); None downloads sarcasm
        "validation_fraction": 0.1,  # text: the tail, from a line start
        "split_seed": 1337,  # sarcasm: the classifier's split (same fraction and seed)
        # a translation pairs file (spa.txt) whose English side is added to
        # the training text, never to the validation text; None: none
        "translation_pairs": None,
    },
    "preprocessing": {
        "level": "char",  # char | word
        "max_tokens": None,  # None: every token of the training text
    },
    "model": {
        "cell": "lstm",
        "cell_options": {},
        "units": 256,
        "num_layers": 2,
        "embedding_dim": 128,
        "dropout": 0.0,  # locked dropout on embeddings, between layers, before the output
        "tie_embeddings": False,
        # {name: MODEL, base: DIR}: go on training a language model (its
        # vocabulary, sizes and weights) on this text; None: from scratch
        "pretrained": None,
    },
    "training": {
        "epochs": 10,
        "batch_size": 64,
        "sequence_length": 128,  # tokens per window (truncated BPTT length)
        "stateful": True,  # carry states across windows of a stream (else: independent windows)
        "learning_rate": 0.002,
        "lr_schedule": "constant",  # constant | cosine (to 0 over all epochs)
        "clipnorm": 1.0,
        "early_stopping_patience": 3,
        "monitor": "val_loss",
        "seed": 1337,
    },
    "generation": {  # the samples in metrics.json and the model card
        "prompt": "",  # "" starts after a line end
        "length": 300,
        "temperature": 0.8,
        "top_k": 0,
        "top_p": 1.0,
        "samples": 3,
    },
}


TASK_DEFAULTS = {
    "classification": CLASSIFICATION,
    "translation": TRANSLATION,
    "adding": ADDING,
    "language_model": LANGUAGE_MODEL,
}

"""Models built from `zoo.layers`.

- `text_classifier.py`: `TextClassifier` (token ids -> class probabilities)
  and its `AttentionPooling`.
- `text_classifier_preprocessor.py`: raw strings -> token ids, and the
  end-to-end string model.
- `translator.py`: `Translator`, the encoder-decoder with attention over
  token ids, greedy and beam-search decoding.
- `translator_preprocessor.py`: raw sentence pairs <-> token ids,
  `translate`.
- `translation_metrics.py`: corpus BLEU and chrF (sacrebleu).
- `language_model.py`: `LanguageModel` (token ids -> next-token logits),
  priming, O(1)-per-token stepping and sampling, log-likelihood.
- `language_model_preprocessor.py`: text <-> token ids at character or word
  level, and `TextLanguageModel` (text in, generated text or scores out).
- `sequence_regressor.py`: real-valued sequences -> recurrent stack ->
  targets, for the synthetic long-time-lag tasks (the adding problem).

The 1997 paper's networks, which only its reproduction uses, are
`training.reproduce.networks`.

Importing this package registers every zoo class and function a saved
`.keras` file may name.
"""

from zoo.models import (
    language_model_preprocessor,
    text_classifier_preprocessor,
    translator_preprocessor,
)
from zoo.models.language_model import LanguageModel
from zoo.models.text_classifier import AttentionPooling, TextClassifier
from zoo.models.translator import Translator

__all__ = [
    "AttentionPooling",
    "LanguageModel",
    "language_model_preprocessor",
    "TextClassifier",
    "Translator",
    "text_classifier_preprocessor",
    "translator_preprocessor",
]

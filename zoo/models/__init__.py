"""Models built from `zoo.layers`.

- `text_classifier.py`: `TextClassifier` (token ids -> class probabilities)
  and its `AttentionPooling`.
- `text_classifier_preprocessor.py`: raw strings -> token ids, and the
  end-to-end string model.
- `paper_1997.py`: the networks of the 1997 LSTM paper's experiments, as
  presets (plain data) and a builder.

Importing this package registers every zoo class and function a saved
`.keras` file may name.
"""

from zoo.models import text_classifier_preprocessor
from zoo.models.text_classifier import AttentionPooling, TextClassifier

__all__ = ["AttentionPooling", "TextClassifier", "text_classifier_preprocessor"]

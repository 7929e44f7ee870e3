"""Tiny, learnable data and configs for the training-script tests."""

import random

import pytest

TINY_MODEL = """
task: classification
data:
  format: table
  validation_fraction: 0.25
preprocessing: {max_tokens: 60, sequence_length: 8}
model:
  cell: gru
  units: 8
  embedding_dim: 8
  attention_units: 8
  dropout: 0.1
training:
  epochs: 3
  batch_size: 16
  learning_rate: 0.01
  early_stopping_patience: null
"""

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
CUES = {"good": "sunny", "bad": "stormy", "neutral": "cloudy"}


@pytest.fixture
def table_data(tmp_path):
    """300 texts whose label is told by one cue word among filler."""
    rng = random.Random(0)
    lines = ["text,label"]
    for i in range(300):
        label = rng.choice(sorted(CUES))
        words = rng.sample(WORDS, 4)
        words.insert(rng.randrange(5), CUES[label])
        lines.append(f"{' '.join(words)} {i},{label}")
    path = tmp_path / "texts.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_MODEL)
    return path

"""Long-time-lag tasks, generated on line, seeded and documented: those of
the 1997 LSTM paper, and the copy-memory task of later cell papers."""

from zoo.data.synthetic.adding import adding_batch, adding_sequence
from zoo.data.synthetic.batching import pad_batch
from zoo.data.synthetic.copy_memory import (
    copy_memory_batch,
    memoryless_cross_entropy,
    recall_accuracy,
)
from zoo.data.synthetic.long_lag import (
    distractor_sequence,
    no_local_regularities_sequence,
    noise_free_sequence,
)
from zoo.data.synthetic.multiplication import multiplication_sequence
from zoo.data.synthetic.reber import (
    embedded_reber_string,
    is_embedded_reber,
    possible_next,
    reber_possible_targets,
    reber_sequence,
    reber_train_test,
)
from zoo.data.synthetic.temporal_order import temporal_order_sequence
from zoo.data.synthetic.two_sequence import (
    two_sequence,
    two_sequence_with_clean_target,
)

__all__ = [
    "adding_batch",
    "adding_sequence",
    "copy_memory_batch",
    "distractor_sequence",
    "embedded_reber_string",
    "is_embedded_reber",
    "memoryless_cross_entropy",
    "multiplication_sequence",
    "no_local_regularities_sequence",
    "noise_free_sequence",
    "pad_batch",
    "possible_next",
    "recall_accuracy",
    "reber_possible_targets",
    "reber_sequence",
    "reber_train_test",
    "temporal_order_sequence",
    "two_sequence",
    "two_sequence_with_clean_target",
]

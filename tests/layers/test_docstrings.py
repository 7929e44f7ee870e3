"""The Example sections of the layer docstrings run and print what they say."""

import pytest

from tests.doctests import run_docstring_examples
from zoo.layers import gru, lstm, original_lstm, xla_loop


@pytest.mark.parametrize("module", [lstm, gru, original_lstm], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    results = run_docstring_examples([module])
    assert results.attempted >= 3
    assert results.failed == 0


def test_compiled_training_example_runs():
    results = run_docstring_examples([xla_loop])
    assert results.attempted >= 4
    assert results.failed == 0

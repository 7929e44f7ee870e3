"""The Example sections of the layer docstrings run and print what they say."""

import pytest

from tests.doctests import run_docstring_examples
from zoo.layers import gru, lstm, original_lstm


@pytest.mark.parametrize("module", [lstm, gru, original_lstm], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    results = run_docstring_examples([module])
    assert results.attempted >= 3
    assert results.failed == 0

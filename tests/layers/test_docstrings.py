"""The Example sections of the layer docstrings run and print what they say."""

import doctest

import keras
import numpy as np
import pytest

from zoo.layers import gru, lstm, original_lstm


@pytest.mark.parametrize("module", [lstm, gru, original_lstm], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    globs = {**vars(module), "np": np, "keras": keras}
    for test in doctest.DocTestFinder().find(module, globs=globs):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted >= 3
    assert results.failed == 0

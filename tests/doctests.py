"""Runs the Example sections of module docstrings."""

import doctest

import keras
import numpy as np


def run_docstring_examples(modules):
    """Runs every docstring example of `modules`; returns doctest's results."""
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for module in modules:
        globs = {**vars(module), "np": np, "keras": keras}
        for test in doctest.DocTestFinder().find(module, globs=globs):
            runner.run(test)
    return runner.summarize(verbose=False)

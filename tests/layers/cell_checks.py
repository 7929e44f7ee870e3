"""The checks each cell's test file makes: outputs and gradients against the
cell's own float64 NumPy reference, bad arguments refused by name, and the
docstring examples.

A reference is called as `reference(x, *weights, **kwargs)`: x and the
layer's weights (in `get_weights()` order) in float64, `mask` among the
keywords. It returns the outputs for every step `(batch, time, units)`, or
a tuple of them and the final state.
"""

import re

import numpy as np
import pytest

from tests.doctests import run_docstring_examples
from tests.layers.autodiff import gradients
from tests.layers.common import assert_same_outputs, share_random_weights, weights64
from tests.layers.numpy_reference import numerical_gradient

# Keywords of both the layer and its reference, by test id.
DIRECTIONS = {"forward": {}, "backwards": {"go_backwards": True}}


def forward_cases(options=DIRECTIONS):
    """Parametrizes a test's `masked, options`: each of `options` unmasked
    (ids `unmasked-<id>`), then each masked (`masked-<id>`)."""
    return pytest.mark.parametrize(
        "masked, options",
        [
            pytest.param(masked, kwargs, id=f"{'masked' if masked else 'unmasked'}-{name}")
            for masked in (False, True)
            for name, kwargs in options.items()
        ],
    )


FORWARD_CASES = forward_cases()
MASKED = pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])

# `kwargs, message` of the bad units and dropout rates most cells are
# checked on, for `assert_refused`.
UNITS_AND_DROPOUT_REFUSALS = [
    ({"units": 0}, "units=0"),
    ({"units": -3}, "units=-3"),
    ({"units": "8"}, "units='8'"),
    ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
    ({"units": 4, "recurrent_dropout": -0.1}, "recurrent_dropout=-0.1"),
]


def _outputs(result):
    return result[0] if isinstance(result, tuple) else result


def assert_matches_reference(layer, reference, x, mask=None, initial_state=None,
                             atol=1e-5, **reference_kwargs):
    """Checks `layer(x)` against `reference(x, *weights, mask=mask,
    **reference_kwargs)`: its outputs, or with `return_state` its outputs
    and final state against the reference's (outputs, state).

    `initial_state` goes to the layer only: give the reference its own
    keyword for it. Returns the reference's result, for further checks.
    """
    call = {"mask": mask, "initial_state": initial_state}
    actual = layer(x, **{k: v for k, v in call.items() if v is not None})
    result = reference(x.astype("float64"), *weights64(layer), mask=mask, **reference_kwargs)
    expected = result if isinstance(actual, (list, tuple)) else _outputs(result)
    assert_same_outputs(actual, expected, atol=atol)
    return result


def assert_gradients_match_reference(layer, reference, features=3, steps=4,
                                     **reference_kwargs):
    """Checks the autodiff gradients of Σ y_T (the outputs at the last step)
    against central differences of the reference, for all the weights.

    Random weights (scale 0.6) on two random sequences `(2, steps,
    features)`; `layer` returns sequences. Returns the autodiff gradients.
    """
    x = np.random.default_rng(5).normal(size=(2, steps, features)).astype("float32")
    share_random_weights([layer], x, scale=0.6)
    weights, x64 = weights64(layer), x.astype("float64")

    def loss():
        return _outputs(reference(x64, *weights, **reference_kwargs))[:, -1].sum()

    autodiff = gradients(layer, x)
    assert len(autodiff) == len(weights), (len(autodiff), len(weights))
    for computed, weight in zip(autodiff, weights):
        numeric = numerical_gradient(loss, weight)
        np.testing.assert_allclose(computed, numeric, atol=2e-4, rtol=1e-3)
    return autodiff


def assert_refused(message, make, *args, **kwargs):
    """`make(*args, **kwargs)` raises a ValueError whose text has `message`."""
    with pytest.raises(ValueError, match=re.escape(message)):
        make(*args, **kwargs)


def assert_docstring_examples_run(module, at_least=2):
    """At least `at_least` of `module`'s docstring examples run, none fails."""
    results = run_docstring_examples([module])
    assert results.attempted >= at_least, results
    assert results.failed == 0, results

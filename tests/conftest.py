"""Test set-up shared by every test: quiet TensorFlow, backend selection."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level is set)
import pytest  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Deselect (not skip) TensorFlow-only tests under another backend, and
    count `jax_slow` tests as `slow` under JAX.

    `.ci/run` runs the layer tests a second time with KERAS_BACKEND=jax; the
    SavedModel-export tests belong to the TensorFlow run alone. JAX runs a
    layer eagerly op by op, compiling each, so the classic cells' tests and
    the shared battery over the catalogue take minutes there: they run
    with `-m slow` (this hook runs before `-m` selects).
    """
    if keras.backend.backend() == "tensorflow":
        return
    if keras.backend.backend() == "jax":
        for item in items:
            if item.get_closest_marker("jax_slow"):
                item.add_marker(pytest.mark.slow)
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("tensorflow_only") else kept).append(
            item
        )
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1337)

"""serving/servable.py: which signatures Predict, Classify and Regress may run."""

import grpc
import pytest

from serving.errors import ServingError
from serving.servable import CLASSIFY_METHOD, Servable
from tests.serving.saved_models import _set_method, write_half_plus_three

pytestmark = pytest.mark.tensorflow_only


@pytest.fixture(scope="module")
def servable(tmp_path_factory):
    path = write_half_plus_three(tmp_path_factory.mktemp("servable") / "1")
    _set_method(path, "echo", "custom/method")
    loaded = Servable(path)
    yield loaded
    loaded.close()


def test_predict_checks_the_method_only_with_the_flag(servable):
    assert servable.predict_signature("echo").method_name == "custom/method"
    assert servable.predict_signature("classify_x", check_method=True).method_name == (
        CLASSIFY_METHOD)
    with pytest.raises(ServingError) as caught:
        servable.predict_signature("echo", check_method=True)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Was: custom/method" in caught.value.message


def test_classify_and_regress_run_only_signatures_of_their_method(servable):
    assert servable.example_signature("classify_x", CLASSIFY_METHOD).method_name == (
        CLASSIFY_METHOD)
    for name in ("serving_default", "tensorflow/serving/regress"):
        with pytest.raises(ServingError) as caught:
            servable.example_signature(name, CLASSIFY_METHOD)
        assert "Expected classify signature method_name" in caught.value.message

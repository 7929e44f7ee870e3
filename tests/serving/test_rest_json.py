"""serving/rest_json.py: REST JSON bodies <-> tensorflow-serving-api protos.

Cases follow TF Serving's REST reference and its json_tensor tests; answers
are compared as parsed JSON, requests as protos, errors by code and message.
"""

import gzip
import json
import math

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2

from serving import rest_json
from serving.errors import ServingError

pytestmark = pytest.mark.tensorflow_only

SPEC = model_pb2.ModelSpec(name="half")
SPEC.version.value = 2
FLOAT = {"x": tf.float32}
INT32 = {"x": tf.int32}
STRING = {"x": tf.string}
HALF = {"x": tf.float16}
TWO = {"a": tf.int32, "b": tf.string}


def signature(inputs):
    signature_def = meta_graph_pb2.SignatureDef()
    for alias, dtype in inputs.items():
        signature_def.inputs[alias].dtype = dtype.as_datatype_enum
    return signature_def


def predict(body, inputs):
    """The REST predict path: parse, read the signature name, build the request."""
    document = rest_json.parse_body(body)
    rest_json.signature_name(document)
    return rest_json.predict_request(document, SPEC, signature(inputs))


def tensors(body, inputs):
    """`({alias: ndarray}, row_format)` of a predict body, as the model gets them."""
    request, row_format = predict(body, inputs)
    return {alias: tf.make_ndarray(proto) for alias, proto in request.inputs.items()}, row_format


def classify(body):
    return rest_json.classification_request(rest_json.parse_body(body), SPEC)


def error(call, *args):
    with pytest.raises(ServingError) as caught:
        call(*args)
    return caught.value


def response(**outputs):
    answer = predict_pb2.PredictResponse()
    for alias, value in outputs.items():
        answer.outputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return answer


def answer(outputs, row_format):
    return json.loads(rest_json.predict_response(response(**outputs), row_format))


# --- Predict requests ----------------------------------------------------------


def test_row_format_stacks_instances_into_a_typed_request():
    request, row_format = predict(b'{"instances": [[[1, 2]], [[3, 4]]]}', INT32)
    assert row_format is True
    assert request.model_spec == model_pb2.ModelSpec(
        name="half", version=SPEC.version, signature_name="serving_default"
    )
    x = request.inputs["x"]
    assert x.dtype == types_pb2.DT_INT32 and list(x.int_val) == [1, 2, 3, 4]
    assert [dim.size for dim in x.tensor_shape.dim] == [2, 1, 2]
    assert rest_json.signature_name({"signature_name": ""}) == "serving_default"
    assert rest_json.signature_name({"signature_name": "classify"}) == "classify"


def test_columnar_format_keeps_the_written_shape():
    inputs, row_format = tensors(b'{"inputs": [1.0, 2, 5.5]}', FLOAT)
    assert row_format is False and inputs["x"].tolist() == [1.0, 2.0, 5.5]
    assert inputs["x"].dtype == np.float32
    assert tensors(b'{"inputs": 5.0}', FLOAT)[0]["x"].shape == ()
    assert tensors(b'{"inputs": []}', FLOAT)[0]["x"].shape == (0,)


def test_named_instances_for_several_inputs():
    inputs, _ = tensors(
        b'{"signature_name": "s", "instances": ['
        b'{"tag": "foo", "signal": [1,2,3,4,5], "sensor": [[1,2],[3,4]]},'
        b'{"tag": "bar", "signal": [3,4,1,2,5], "sensor": [[4,5],[6,8]]}]}',
        {"tag": tf.string, "signal": tf.int32, "sensor": tf.int32},
    )
    assert inputs["tag"].tolist() == [b"foo", b"bar"]
    assert inputs["signal"].shape == (2, 5)
    assert inputs["sensor"][1].tolist() == [[4, 5], [6, 8]]
    request, _ = predict(b'{"signature_name": "s", "instances": [{"x": 1}]}', INT32)
    assert request.model_spec.signature_name == "s"


def test_named_single_input_and_columnar_names_with_extras():
    assert tensors(b'{"instances": [{"x": [1.0]}, {"x": [2.0]}]}', FLOAT)[0]["x"].shape == (2, 1)
    inputs, _ = tensors(
        b'{"inputs": {"a": [[[1,2],[3,4],[5,6]]], "b": ["foo", "bar"], "ignored": 1}}', TWO
    )
    assert sorted(inputs) == ["a", "b"]
    assert inputs["a"].shape == (1, 3, 2) and inputs["b"].shape == (2,)


def test_b64_strings_become_raw_bytes():
    inputs, _ = tensors(b'{"instances": [{"b64": "aGVsbG8="}, {"b64": "/w"}]}', STRING)
    assert inputs["x"].tolist() == [b"hello", b"\xff"]
    inputs, _ = tensors(b'{"instances": [{"x": [[{"b64": "aGk="}], [{"b64": "eW8="}]]}]}', STRING)
    assert inputs["x"].shape == (1, 2, 1) and inputs["x"].ravel().tolist() == [b"hi", b"yo"]
    value = tensors(b'{"inputs": {"b64": "aGVsbG8="}}', STRING)[0]["x"]
    assert value.shape == () and value.item() == b"hello"


def test_every_dtype_family_fills_its_typed_field():
    cases = [
        (tf.float32, "[0.5, 1, -2.5e3]", "float_val", [0.5, 1.0, -2500.0]),
        (tf.float64, "[0.1, 9007199254740991]", "double_val", [0.1, 9007199254740991.0]),
        (tf.int8, "[-5, 200]", "int_val", [-5, -56]),  # TensorFlow truncates int32
        (tf.uint8, "[300, -1]", "int_val", [44, 255]),
        (tf.int16, "[-32768]", "int_val", [-32768]),
        (tf.int32, "[-2147483648, 2147483647]", "int_val", [-(2**31), 2**31 - 1]),
        (tf.int64, "[-9223372036854775808]", "int64_val", [-(2**63)]),
        (tf.uint32, "[4294967295]", "uint32_val", [2**32 - 1]),
        (tf.uint64, "[18446744073709551615]", "uint64_val", [2**64 - 1]),
        (tf.bool, "[true, false]", "bool_val", [True, False]),
        (tf.string, '["caf\\u00e9", "\\ud83d\\ude00", "\\udc00"]', "string_val",
         ["café".encode(), "\U0001f600".encode(), b"\xed\xb0\x80"]),  # a lone one is kept
    ]
    for dtype, values, field, expected in cases:
        request, _ = predict(b'{"inputs": %s}' % values.encode(), {"x": dtype})
        proto = request.inputs["x"]
        assert proto.dtype == dtype.as_datatype_enum, dtype
        assert list(getattr(proto, field)) == expected, dtype
        assert tf.make_ndarray(proto).dtype == dtype.as_numpy_dtype, dtype


def test_nan_and_infinity_inputs():
    inputs, _ = tensors(
        b'{"instances": [{"f": [1.0, NaN], "d": [NaN]}, {"f": [2.0, Infinity], "d": [-Infinity]}]}',
        {"f": tf.float32, "d": tf.float64},
    )
    assert math.isnan(inputs["f"][0, 1]) and inputs["f"][1, 1] == np.inf
    assert inputs["d"].dtype == np.float64 and inputs["d"][1, 0] == -np.inf


def test_bytes_after_the_document_are_ignored_as_tf_serving_does():
    document = rest_json.parse_body(b'\xef\xbb\xbf {"instances": [1], "extra": 2} garbage ]]')
    assert document == {"instances": [1], "extra": 2}


# --- Malformed requests ----------------------------------------------------------

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _element(index, message):
    return f"Failed to process element: {index} of 'instances' list. Error: {message}"


MALFORMED = [
    ("empty body", b"", FLOAT, INVALID, "JSON Parse error: The document is empty"),
    ("not json", b"x", FLOAT, INVALID, "JSON Parse error: Invalid value. at offset: 0"),
    ("uncommon parse fault", b'{"a": "abc', FLOAT, INVALID,
     "JSON Parse error: Unterminated string starting. at offset: 6"),
    ("not utf-8", b'{"instances": ["\xff"]}', STRING, INVALID,
     "JSON Parse error: Invalid encoding in string. at offset: 16"),
    ("not utf-8 outside strings", b"\xff\xfe", FLOAT, INVALID,
     "JSON Parse error: Invalid value. at offset: 0"),
    ("100000 nested arrays", b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", FLOAT,
     INVALID, "JSON Parse error: Nesting is too deep."),
    ("lists deeper than a tensor may be", b'{"instances": ' + b"[" * 300 + b"]" * 300 + b"}",
     FLOAT, INVALID, "nest 299 deep"),
    ("top level array", b"[1, 2]", FLOAT, INVALID, "JSON Value: [1, 2] Is not object"),
    ("signature_name not a string", b'{"signature_name": 5, "instances": [1]}', FLOAT, INVALID,
     "not formatted correctly. 'signature_name' key must be a string value."),
    ("both keys", b'{"instances": [1], "inputs": [1]}', FLOAT, INVALID,
     "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"),
    ("neither key", b'{"signature_name": ""}', FLOAT, INVALID,
     "Missing 'inputs' or 'instances' key"),
    ("empty instances", b'{"instances": []}', FLOAT, INVALID, "No values in 'instances' array"),
    ("string into float", b'{"instances": ["x"]}', FLOAT, INVALID,
     _element(0, 'INVALID_ARGUMENT: JSON Value: "x" Type: String is not of expected type: float')),
    ("bool into float", b'{"inputs": [true]}', FLOAT, INVALID,
     "JSON Value: true Type: True is not of expected type: float"),
    ("int32 overflow", b'{"inputs": [2147483648]}', INT32, INVALID,
     "JSON Value: 2147483648 Type: Number is not of expected type: int32"),
    ("integer too precise for float", b'{"inputs": [16777217]}', FLOAT, INVALID,
     "Cannot convert JSON value: 16777217 to float without loss of precision."),
    ("half in row format", b'{"instances": [1.0]}', HALF, INVALID,
     _element(0, "UNIMPLEMENTED: Conversion of JSON Value: 1.0 to type: half")),
    ("half in columnar format", b'{"inputs": [0.5]}', HALF, grpc.StatusCode.UNIMPLEMENTED,
     "Conversion of JSON Value: 0.5 to type: half"),
    ("url-safe base64", b'{"instances": [{"b64": "_-8="}]}', STRING, INVALID,
     _element(0, "INVALID_ARGUMENT: Unable to base64 decode")),
    ("ragged sizes", b'{"instances": [[1,2],[3,4],[5,6,7]]}', INT32, INVALID,
     _element(2, "INVALID_ARGUMENT: Expecting tensor size: 2 but got: 3")),
    ("ragged shapes", b'{"instances": [[1,2],[3,4],[[5,6]]]}', INT32, INVALID,
     _element(2, "INVALID_ARGUMENT: Expecting shape [2] but got: [1,2]")),
    ("ragged inside an instance", b'{"instances": [[[1,2],[3]]]}', INT32, INVALID,
     "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
    ("value shallower than its siblings", b'{"inputs": [[1], 2]}', INT32, INVALID,
     "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
    ("plain list for two inputs", b'{"instances": [1, 2]}', TWO, INVALID,
     "instances is a plain list, but expecting list of objects as multiple input tensors"),
    ("instance lacking a key", b'{"instances": [{"a": 1}]}', TWO, INVALID,
     'Failed to process element: 0 of \'instances\' list. JSON object: {"a": 1} keys must be'
     " equal to: a,b"),
    ("unknown name", b'{"instances": [{"y": 1}]}', INT32, INVALID,
     "Failed to process element: 0 key: y of 'instances' list. Error: INVALID_ARGUMENT: JSON"
     " object: does not have named input: y"),
    ("columnar input missing", b'{"inputs": {"a": [1]}}', TWO, INVALID,
     "Missing named input: b in 'inputs' object."),
]


@pytest.mark.parametrize(
    "body, inputs, code, message", [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_predict_request(body, inputs, code, message):
    failure = error(predict, body, inputs)
    assert failure.code == code
    assert message in failure.message


# --- Predict responses ---------------------------------------------------------


def test_row_and_columnar_answers_of_one_output():
    y = np.array([3.5, 4.0, 5.5], np.float32)
    assert answer({"y": y}, True) == {"predictions": [3.5, 4.0, 5.5]}
    assert answer({"y": y}, False) == {"outputs": [3.5, 4.0, 5.5]}
    assert answer({"y": np.zeros((0, 2), np.int32)}, True) == {"predictions": []}


def test_several_outputs_are_named_per_row_or_per_tensor():
    outputs = {"ints": np.array([[1, 2], [3, 4]], np.int64), "scores": np.array([0.25, 1.0])}
    assert answer(outputs, True) == {
        "predictions": [{"ints": [1, 2], "scores": 0.25}, {"ints": [3, 4], "scores": 1.0}]
    }
    assert answer(outputs, False) == {"outputs": {"ints": [[1, 2], [3, 4]], "scores": [0.25, 1.0]}}


def test_bytes_suffix_selects_b64_and_other_strings_are_text():
    outputs = {
        "image_bytes": np.array([b"hello", b"\xff\x00"], dtype=object),
        "text": np.array(["café".encode(), b"\xff"], dtype=object),
    }
    assert answer(outputs, True)["predictions"] == [
        {"image_bytes": {"b64": "aGVsbG8="}, "text": "café"},
        {"image_bytes": {"b64": "/wA="}, "text": "\ufffd"},
    ]


def test_numbers_are_written_shortest_and_nonfinite_as_tokens():
    outputs = {
        "f32": np.array([0.1, 1 / 3, 16777216, -0.0, 1e-45], np.float32),
        "f64": np.array([1 / 3, 1e300, np.nan, np.inf, -np.inf]),
        "i64": np.array([2**62, -5, 0, 1, 2], np.int64),
        "u64": np.array([2**64 - 1] * 5, np.uint64),
        "flag": np.array([True, False, True, False, True]),
    }
    body = rest_json.predict_response(response(**outputs), False)
    assert b"0.1," in body and b"0.33333334," in body and b"NaN" in body
    assert b"Infinity" in body and b"-Infinity" in body
    written = json.loads(body)["outputs"]
    assert written["f32"] == [0.1, 0.33333334, 16777216.0, -0.0, 1e-45]
    assert written["f64"][:2] == [1 / 3, 1e300] and math.isnan(written["f64"][2])
    assert written["f64"][3:] == [math.inf, -math.inf]
    assert written["i64"][0] == 2**62 and written["u64"][0] == 2**64 - 1
    assert written["flag"][:2] == [True, False]


def test_float32_outputs_read_back_bit_for_bit():
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.standard_normal(500).astype(np.float32) * 10.0 ** rng.integers(-40, 38, 500),
        [0.0, -0.0, 1e-45, 3.4028235e38, -3.4028235e38, 1.1754944e-38, 0.1, 7.0],
    ]).astype(np.float32)
    written = answer({"y": values}, False)["outputs"]
    assert np.array(written, np.float32).tobytes() == values.tobytes()
    # And back in as a request, the same bits, but for float32's extremes: as
    # doubles they exceed FLT_MAX, so the lossless check refuses them.
    inner = [value for value in written if abs(value) < 3e38]
    inputs, _ = tensors(json.dumps({"inputs": inner}).encode(), FLOAT)
    assert inputs["x"].tobytes() == values[np.abs(values) < 3e38].tobytes()


def test_typed_fields_and_tensor_content_give_the_same_answer():
    values = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    packed = response(y=values)
    assert packed.outputs["y"].tensor_content
    typed = predict_pb2.PredictResponse()
    typed.outputs["y"].dtype = types_pb2.DT_FLOAT
    typed.outputs["y"].tensor_shape.dim.add(size=2)
    typed.outputs["y"].tensor_shape.dim.add(size=3)
    typed.outputs["y"].float_val.extend(values.ravel().tolist())
    for proto in (packed, typed):
        assert json.loads(rest_json.predict_response(proto, True)) == {
            "predictions": [[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]]
        }


@pytest.mark.parametrize(
    "outputs, row_format, message",
    [
        ({}, True, "Cannot convert empty tensor map to JSON"),
        ({"y": np.float32(1.0)}, True, "Tensor name: y has no shape information"),
        ({"a": np.zeros(2), "b": np.zeros(1)}, True, "has inconsistent batch size"),
        ({"y": np.zeros(2, np.complex64)}, False,
         "Failed to write JSON value for tensor type: complex64"),
        ({"y": np.zeros(2, np.float16)}, True, "Failed to write JSON value for tensor type: half"),
    ],
    ids=["empty", "scalar", "batch sizes", "complex64", "half"],
)
def test_outputs_json_cannot_express(outputs, row_format, message):
    failure = error(rest_json.predict_response, response(**outputs), row_format)
    assert failure.code == INVALID and message in failure.message


# --- Classify and regress --------------------------------------------------------


def test_classification_request_with_context_and_every_feature_kind():
    request = classify(
        b'{"signature_name": "custom", "context": {"query": "pizza", "location": ["sfo"]},'
        b' "examples": [{"names": ["foo", "bar"], "ratings": [8.0, NaN, Infinity], "age": 20},'
        b' {"names": ["baz", {"b64": "aGVsbG8="}], "mix": [1, true, false], "empty": []}]}'
    )
    assert isinstance(request, classification_pb2.ClassificationRequest)
    assert request.model_spec.name == "half" and request.model_spec.signature_name == "custom"
    assert request.input.WhichOneof("kind") == "example_list_with_context"
    context = request.input.example_list_with_context.context.features.feature
    assert context["query"].bytes_list.value == [b"pizza"]
    assert context["location"].bytes_list.value == [b"sfo"]
    first, second = request.input.example_list_with_context.examples
    assert first.features.feature["names"].bytes_list.value == [b"foo", b"bar"]
    ratings = first.features.feature["ratings"].float_list.value
    assert ratings[0] == 8.0 and math.isnan(ratings[1]) and ratings[2] == math.inf
    assert first.features.feature["age"].int64_list.value == [20]
    assert second.features.feature["names"].bytes_list.value == [b"baz", b"hello"]
    assert second.features.feature["mix"].int64_list.value == [1, 1, 0]
    assert second.features.feature["empty"].WhichOneof("kind") is None


def test_regression_request_without_context():
    document = rest_json.parse_body(b'{"examples": [{"x": 1.0}, {"x": 2.0}]}')
    request = rest_json.regression_request(document, SPEC)
    assert isinstance(request, regression_pb2.RegressionRequest)
    assert request.model_spec.signature_name == "serving_default"
    assert request.input.WhichOneof("kind") == "example_list"
    examples = request.input.example_list.examples
    assert [e.features.feature["x"].float_list.value[0] for e in examples] == [1.0, 2.0]
    # An empty context still selects the context form.
    request = classify(b'{"context": {}, "examples": [{}]}')
    assert request.input.WhichOneof("kind") == "example_list_with_context"


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"signature_name": "s"}',
         "When method is classify, key 'examples' is expected and was not found"),
        (b'{"examples": []}', "'examples' value is an empty array"),
        (b'{"examples": [[{"x": 1}]]}', "Example must be JSON object but got JSON Array"),
        (b'{"examples": [{"f": [10, null]}]}',
         "Feature: f has element with unexpected JSON type: Null"),
        (b'{"examples": [{"f": [10, 10.0]}]}',
         "Unexpected element type in feature: f expecting type: int64"),
        (b'{"examples": [{"f": [20, 18446744073709551603]}]}',
         "Feature: f has uint64_t element. Only int64_t is supported."),
        (b'{"examples": [{"f": {"b64": "@@@@"}}]}', "Unable to base64 decode"),
    ],
    ids=["no examples", "empty", "example not object", "null", "mixed kinds", "uint64",
         "bad base64"],
)
def test_malformed_example_request(body, message):
    failure = error(classify, body)
    assert failure.code == INVALID and message in failure.message


def test_classify_and_regress_answers():
    classified = classification_pb2.ClassificationResponse()
    for row in ([("car", 0.2), ("bike", 0.7)], [("", 0.5)]):
        classes = classified.result.classifications.add()
        for label, score in row:
            classes.classes.add(label=label, score=score)
    assert json.loads(rest_json.classify_response(classified)) == {
        "results": [[["car", 0.2], ["bike", 0.7]], [["", 0.5]]]
    }
    regressed = regression_pb2.RegressionResponse()
    for value in (3.5, 0.1, math.nan):
        regressed.result.regressions.add(value=value)
    results = json.loads(rest_json.regress_response(regressed))["results"]
    assert results[:2] == [3.5, 0.1] and math.isnan(results[2])
    for write, empty in ((rest_json.classify_response, classification_pb2.ClassificationResponse()),
                         (rest_json.regress_response, regression_pb2.RegressionResponse())):
        assert "Cannot convert empty" in error(write, empty).message


# --- Status, metadata, errors, gzip ---------------------------------------------------


def test_model_status_prints_every_field():
    status = get_model_status_pb2.GetModelStatusResponse()
    available = status.model_version_status.add(version=2, state=30)
    available.status.SetInParent()
    failed = status.model_version_status.add(version=1, state=50)
    failed.status.error_code, failed.status.error_message = 5, "Could not load"
    assert json.loads(rest_json.model_status(status)) == {"model_version_status": [
        {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        {"version": "1", "state": "END",
         "status": {"error_code": "NOT_FOUND", "error_message": "Could not load"}},
    ]}


def test_metadata_nests_signature_def_twice():
    metadata = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=SPEC)
    signatures = text_format.Parse(
        'signature_def { key: "serving_default" value {'
        ' method_name: "tensorflow/serving/predict"'
        ' inputs { key: "x" value { name: "x:0" dtype: DT_FLOAT'
        " tensor_shape { dim { size: -1 } } } }"
        ' outputs { key: "y" value { name: "y:0" dtype: DT_FLOAT'
        " tensor_shape { unknown_rank: true } } } } }",
        get_model_metadata_pb2.SignatureDefMap(),
    )
    metadata.metadata["signature_def"].Pack(signatures)
    written = json.loads(rest_json.metadata(metadata))
    assert written["model_spec"] == {"name": "half", "version": "2", "signature_name": ""}
    assert written["metadata"]["signature_def"]["signature_def"] == {"serving_default": {
        "method_name": "tensorflow/serving/predict",
        "inputs": {"x": {"name": "x:0", "dtype": "DT_FLOAT",
                         "tensor_shape": {"dim": [{"size": "-1", "name": ""}],
                                          "unknown_rank": False}}},
        "outputs": {"y": {"name": "y:0", "dtype": "DT_FLOAT",
                          "tensor_shape": {"dim": [], "unknown_rank": True}}},
        "defaults": {},
    }}
    failure = error(rest_json.metadata, get_model_metadata_pb2.GetModelMetadataResponse())
    assert failure.code == grpc.StatusCode.INTERNAL and "'signature_def' key" in failure.message


def test_error_body_round_trips_any_message():
    for message in ['Serving signature name: "foo" not found\tin signature def \x01 é', "\udc00"]:
        assert json.loads(rest_json.error_body(message)) == {"error": message}


def test_gzip_bodies_round_trip():
    body = b'{"instances": [1.0]}'
    assert rest_json.decompress_gzip(gzip.compress(body), 1024) == body
    two_members = gzip.compress(b'{"a":') + gzip.compress(b" 1}")
    assert rest_json.decompress_gzip(two_members, 1024) == b'{"a": 1}'
    # TF Serving passes a body it cannot unpack on as an empty one.
    for broken in (b"not gzip", gzip.compress(body)[:-6]):
        failure = error(rest_json.decompress_gzip, broken, 1024)
        assert failure.code == INVALID
        assert failure.message == "JSON Parse error: The document is empty"


def test_gzip_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b" " * (8 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    failure = error(rest_json.decompress_gzip, bomb, 1024 * 1024)
    assert failure.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert failure.message == "Request body is larger than 1048576 bytes once uncompressed"

"""The JSON of TF Serving's REST API, as `tensorflow-serving-api` protos.

Request bodies become the protos a gRPC client sends, and response protos the
bodies TF Serving answers with. Malformed bodies fail as a `ServingError`
(INVALID_ARGUMENT unless said otherwise) in TF Serving's wording, but bodies
are read by Python's `json`: a parse error keeps rapidjson's wording only for
common faults, a repeated key keeps its last value; responses are compact.
"""

import base64
import functools
import json
import math
import re
import zlib

import grpc
import numpy as np
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, predict_pb2,
                                     regression_pb2)

from serving.errors import ServingError, invalid_argument
from serving.tensors import dtype_name, to_ndarray

DEFAULT_SIGNATURE_NAME = "serving_default"
# TensorFlow's TensorShape::MaxDimensions(); it also bounds list recursion.
MAX_TENSOR_RANK = 254
# Output aliases with this suffix hold binary data, written as {"b64": ...}.
BYTES_OUTPUT_SUFFIX = "_bytes"

# The dtypes JSON can express, and their TensorProto field; the narrow integers go through
# `int_val`, and TensorFlow truncates the values to them.
_INT_VAL_DTYPES = (types_pb2.DT_INT8, types_pb2.DT_INT16, types_pb2.DT_INT32, types_pb2.DT_UINT8)
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: "float_val", types_pb2.DT_DOUBLE: "double_val",
    **dict.fromkeys(_INT_VAL_DTYPES, "int_val"), types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_UINT32: "uint32_val", types_pb2.DT_UINT64: "uint64_val",
    types_pb2.DT_BOOL: "bool_val", types_pb2.DT_STRING: "string_val",
}
# The JSON integers (bools: 0 and 1) each dtype takes; narrow ones are checked as int32.
_INTEGER_RANGES = {
    **dict.fromkeys(_INT_VAL_DTYPES, (-(2**31), 2**31)), types_pb2.DT_INT64: (-(2**63), 2**63),
    types_pb2.DT_UINT32: (0, 2**32), types_pb2.DT_UINT64: (0, 2**64), types_pb2.DT_BOOL: (0, 2),
}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# The tf.train.Feature list each JSON value type goes to.
_FEATURE_KINDS = {str: "bytes", dict: "bytes", float: "float", int: "int64", bool: "int64"}
_JSON_TYPES = {type(None): "Null", dict: "Object", list: "Array", str: "String"}
_DECODER = json.JSONDecoder()


def _finite_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError(text)  # reported as too big, as TF Serving does
    return value


# Python reads 1e999 as Infinity where TF Serving refuses it; only a body
# with so large a literal pays for the checking decoder.
_HUGE_LITERAL = re.compile(r"[0-9][eE]\+?0*[1-9][0-9]{2}|[0-9]{309}")
_CHECKING_DECODER = json.JSONDecoder(parse_float=_finite_float)
_LEADING_WHITESPACE = re.compile(r"[ \t\n\r]*")


def parse_body(body):
    """The top-level JSON object of a request body (UTF-8 `bytes`, gunzipped); as TF Serving,
    bytes after the first JSON value are ignored, and NaN, Infinity and -Infinity are numbers."""
    if not body:
        raise _parse_error("The document is empty")
    try:
        text, bad_byte = body.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        # Read anyway, so that a syntax error is reported first, as rapidjson does.
        text, bad_byte = body.decode("utf-8-sig", "surrogateescape"), error.start
    try:
        decoder = _CHECKING_DECODER if _HUGE_LITERAL.search(text) else _DECODER
        document, _ = decoder.raw_decode(text, _LEADING_WHITESPACE.match(text).end())
    except json.JSONDecodeError as error:
        reason = {"Expecting value": "Invalid value"}.get(error.msg, error.msg.removesuffix(" at"))
        if not text.strip():
            reason = "The document is empty"
        offset = len(text[: error.pos].encode("utf-8", "surrogateescape"))
        raise _parse_error(f"{reason}. at offset: {offset}") from None
    except ValueError:  # An integer literal longer than Python converts.
        raise _parse_error("Number too big to be stored in double.") from None
    except RecursionError:
        raise _parse_error("Nesting is too deep.") from None
    if bad_byte is not None:
        raise _parse_error(f"Invalid encoding in string. at offset: {bad_byte}")
    if type(document) is not dict:
        raise _value_error(document, "Is not object")
    return document


def decompress_gzip(body, max_bytes):
    """Uncompresses a gzip body, inflating at most `max_bytes + 1` bytes. One
    that is not gzip fails as the empty body TF Serving passes on for it."""
    output = bytearray()
    while body:  # One gzip member after another.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            output += decompressor.decompress(body, max_bytes - len(output) + 1)
        except zlib.error:
            raise _parse_error("The document is empty") from None
        if len(output) > max_bytes:
            raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"Request body is larger than {max_bytes} bytes once uncompressed")
        if not decompressor.eof:
            raise _parse_error("The document is empty")
        body = decompressor.unused_data
    return bytes(output)


def signature_name(document):
    """The signature a parsed body names: `serving_default` if absent or empty."""
    name = document.get("signature_name", "")
    if type(name) is not str:
        raise _value_error(
            document, "not formatted correctly. 'signature_name' key must be a string value.")
    return name or DEFAULT_SIGNATURE_NAME


def error_body(message):
    """The body of a REST error, `{"error": message}`, as `bytes`."""
    return _dumps({"error": message})


def predict_request(document, model_spec, signature_def):
    """`(PredictRequest, row_format)` of a parsed `:predict` body, row format
    meaning `instances`. As TF Serving, call it once `signature_def` is found;
    its input dtypes decide how values convert (others fail UNIMPLEMENTED)."""
    request = predict_pb2.PredictRequest(model_spec=model_spec)
    request.model_spec.signature_name = signature_name(document)
    dtypes = {alias: info.dtype for alias, info in signature_def.inputs.items()}
    if not dtypes:
        name = document.get("signature_name") or "DEFAULT"
        raise invalid_argument(f"Failed to get input map for signature: {name}")
    row_format = "instances" in document
    if row_format and "inputs" in document:
        raise _value_error(document, "Not formatted correctly expecting only one of 'inputs' "
                           "or 'instances' keys to exist ")
    if row_format:
        tensors = _tensors_from_instances(document, dtypes)
    elif "inputs" in document:
        tensors = _tensors_from_inputs(document["inputs"], dtypes)
    else:
        raise invalid_argument("Missing 'inputs' or 'instances' key")
    for alias, (shape, values) in tensors.items():
        tensor = request.inputs[alias]
        tensor.dtype = dtypes[alias]
        for size in shape:
            tensor.tensor_shape.dim.add(size=size)
        if values:  # Values can only be of a dtype with a field.
            if tensor.dtype in _INT_VAL_DTYPES:
                values = np.array(values, np.int64).astype(dtype_name(tensor.dtype)).tolist()
            getattr(tensor, _VALUE_FIELDS[tensor.dtype]).extend(values)
    return request, row_format


def _tensors_from_instances(document, dtypes):
    """Row format: `{alias: (shape, flat values)}`, one batch row per instance."""
    instances = document["instances"]
    if type(instances) is not list:
        raise _value_error(document, "Expecting 'instances' to be an list/array")
    if not instances:
        raise _value_error(document, "No values in 'instances' array")
    if type(instances[0]) is not dict and len(dtypes) > 1:
        raise invalid_argument("instances is a plain list, but expecting list of objects as "
                               "multiple input tensors required as per tensorinfo_map")
    named = _is_named_element(instances[0])
    tensors = {}
    for index, element in enumerate(instances):
        if _is_named_element(element) != named:
            found = "object but got list" if named else "value/list but got object"
            raise invalid_argument(f"Expecting {found} at item {index} of input list")
        for alias, item in element.items() if named else [(next(iter(dtypes)), element)]:
            try:
                if alias not in dtypes:
                    raise invalid_argument(f"JSON object: does not have named input: {alias}")
                shape, values = _read_tensor(item, dtypes[alias])
                expected, batch_values = tensors.setdefault(alias, (shape, []))
                if math.prod(expected) != len(values):
                    raise invalid_argument(
                        f"Expecting tensor size: {math.prod(expected)} but got: {len(values)}")
                if expected != shape:
                    raise invalid_argument(f"Expecting shape [{','.join(map(str, expected))}] "
                                           f"but got: [{','.join(map(str, shape))}]")
                batch_values.extend(values)
            except ServingError as error:  # Rewrapped, naming the element.
                key = f" key: {alias}" if named else ""
                raise invalid_argument(
                    f"Failed to process element: {index}{key} of 'instances' list. "
                    f"Error: {error.code.name}: {error.message}") from None
        if named and sorted(element) != sorted(dtypes):
            raise invalid_argument(
                f"Failed to process element: {index} of 'instances' list. JSON object: "
                f"{_value_text(element)} keys must be equal to: {','.join(sorted(dtypes))}")
    return {alias: ([len(instances), *shape], values) for alias, (shape, values) in tensors.items()}


def _tensors_from_inputs(inputs, dtypes):
    """Columnar format: `{alias: (shape, flat values)}`; extra names are ignored."""
    if type(inputs) is not dict or _is_b64_object(inputs):
        if len(dtypes) > 1:
            raise invalid_argument("inputs is a plain value/list, but expecting an object as "
                                   "multiple input tensors required as per tensorinfo_map")
        inputs = {next(iter(dtypes)): inputs}
    for alias in dtypes:
        if alias not in inputs:
            raise invalid_argument(f"Missing named input: {alias} in 'inputs' object.")
    return {alias: _read_tensor(inputs[alias], dtype) for alias, dtype in dtypes.items()}


def _read_tensor(value, dtype):
    """`(shape, flat values)` of a JSON value, the shape read from first elements."""
    shape = []
    item = value
    while type(item) is list:
        shape.append(len(item))
        item = item[0] if item else None
    if len(shape) > MAX_TENSOR_RANK:
        raise invalid_argument(f"JSON lists nest {len(shape)} deep, over the {MAX_TENSOR_RANK} "
                               "dimensions a tensor may have")
    values = []
    _fill(value, 0, shape, _converter(dtype), values)
    return shape, values


def _fill(value, level, shape, convert, values):
    """FillTensorProto(): depth first, so the first fault found is TF Serving's."""
    rank = len(shape)
    if type(value) is not list:
        if level != rank:
            raise _value_error(value, f"found at incorrect level: {level + 1} in the JSON DOM. "
                               f"Expected at level: {rank}")
        values.append(convert(value))
    elif level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    elif len(value) != shape[level]:
        raise invalid_argument(f"Encountered list at unexpected size: {len(value)} at level: "
                               f"{level} expected size: {shape[level]}")
    elif level == rank - 1 and list not in map(type, value):  # Innermost: no recursion.
        values.extend(map(convert, value))
    else:
        for item in value:
            _fill(item, level + 1, shape, convert, values)


@functools.cache
def _converter(dtype):
    """AddValueToTensor() for `dtype`: checks one JSON value and converts it."""
    type_name = dtype_name(dtype)

    def type_error(value):
        found = _json_type(value)
        return _value_error(value, f"Type: {found} is not of expected type: {type_name}")

    if dtype == types_pb2.DT_STRING:
        def convert(value):
            if type(value) is str or type(value) is dict:
                return _bytes(value)
            raise type_error(value)
    elif dtype in (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        # rapidjson's IsLosslessDecimal(): ints must fit the significand, finite floats the range.
        single = dtype == types_pb2.DT_FLOAT
        largest_integer, largest = (2**24 - 1, _FLOAT32_MAX) if single else (2**53 - 1, math.inf)

        def convert(value):
            kind = type(value)
            if (kind is float and (abs(value) <= largest or not math.isfinite(value))
                    or kind is int and abs(value) <= largest_integer):
                return value
            raise _lossy_error(value, type_name) if kind in (int, float) else type_error(value)
    elif dtype in _INTEGER_RANGES:
        kind = bool if dtype == types_pb2.DT_BOOL else int
        low, high = _INTEGER_RANGES[dtype]

        def convert(value):
            if type(value) is kind and low <= value < high:
                return value
            raise type_error(value)
    else:
        def convert(value):
            if type(value) is dict:
                raise type_error(value)
            raise ServingError(grpc.StatusCode.UNIMPLEMENTED, "Conversion of JSON Value: "
                               f"{_value_text(value)} to type: {type_name}")

    return convert


def predict_response(response, row_format):
    """`{"predictions": [row, ...]}` (rows are objects when there are several outputs)
    or `{"outputs": ...}`; float32s as their shortest decimal, strings as text (U+FFFD
    for bytes not UTF-8) or, under an alias ending in `_bytes`, as `{"b64": ...}`."""
    outputs = response.outputs
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    batch_size = None
    for alias, tensor in outputs.items() if row_format else ():
        dims = tensor.tensor_shape.dim
        if not dims:
            raise invalid_argument(f"Tensor name: {alias} has no shape information ")
        if batch_size not in (None, dims[0].size):
            raise invalid_argument(f"Tensor name: {alias} has inconsistent batch size: "
                                   f"{dims[0].size} expecting: {batch_size}")
        batch_size = dims[0].size
    tensors = {alias: _tensor_json(alias, tensor) for alias, tensor in outputs.items()}
    if len(tensors) == 1:
        (answer,) = tensors.values()
    elif row_format:
        answer = [dict(zip(tensors, row)) for row in zip(*tensors.values())]
    else:
        answer = tensors
    return _dumps({"predictions" if row_format else "outputs": answer})


def _tensor_json(alias, tensor):
    """A TensorProto as (nested lists of) JSON values."""
    if tensor.dtype not in _VALUE_FIELDS:
        raise invalid_argument(
            f"Failed to write JSON value for tensor type: {dtype_name(tensor.dtype)}")
    array = to_ndarray(tensor, alias)
    if tensor.dtype == types_pb2.DT_FLOAT:
        return _shortest_float32(array)
    if tensor.dtype != types_pb2.DT_STRING:
        return array.tolist()
    if alias.endswith(BYTES_OUTPUT_SUFFIX):
        texts = [{"b64": base64.b64encode(value).decode("ascii")} for value in array.flat]
    else:
        texts = [value.decode("utf-8", "replace") for value in array.flat]
    return np.array(texts, object).reshape(array.shape).tolist()


def _shortest_float32(values):
    """`values` as (nested) lists of floats printing as each float32's shortest decimal."""
    values = np.asarray(values, np.float32)
    if values.size <= 16:  # NumPy's vectorised path costs more for a few values
        return np.array([float(str(value)) for value in values.flat]).reshape(values.shape).tolist()
    return values.astype(str).astype(np.float64).tolist()


def classification_request(document, model_spec):
    """A parsed `:classify` body as a `ClassificationRequest` (with `context` if any)."""
    return _example_request(classification_pb2.ClassificationRequest, document, model_spec)


def regression_request(document, model_spec):
    """As `classification_request()`, for a `RegressionRequest` (same messages)."""
    return _example_request(regression_pb2.RegressionRequest, document, model_spec)


def _example_request(request_type, document, model_spec):
    request = request_type(model_spec=model_spec)
    request.model_spec.signature_name = signature_name(document)
    if "context" in document:
        request.input.example_list_with_context.context.SetInParent()
        _fill_example(document["context"], request.input.example_list_with_context.context)
        examples = request.input.example_list_with_context.examples
    else:
        examples = request.input.example_list.examples
    # TF Serving's messages say "classify" for both methods.
    if "examples" not in document:
        problem = "When method is classify, key 'examples' is expected and was not found"
    elif type(document["examples"]) is not list:
        problem = "Expecting 'examples' value to be an list/array"
    elif not document["examples"]:
        problem = "'examples' value is an empty array"
    else:
        for example in document["examples"]:
            _fill_example(example, examples.add())
        return request
    raise _value_error(document, problem)


def _fill_example(value, example):
    """AddValueToFeature() for each feature: int64, float or bytes values, one kind per feature."""
    if type(value) is not dict:
        raise invalid_argument(f"Example must be JSON object but got JSON {_json_type(value)}")
    for name, content in value.items():
        feature = example.features.feature[name]  # Even with no values.
        kind = None
        values = []
        for item in content if type(content) is list else [content]:
            item_type = type(item)
            wanted = _FEATURE_KINDS.get(item_type)
            if wanted is None or item_type is dict and not _is_b64_object(item):
                raise invalid_argument(
                    f"Feature: {name} has element with unexpected JSON type: {_json_type(item)}")
            if kind not in (None, wanted):
                raise invalid_argument(
                    f"Unexpected element type in feature: {name} expecting type: {kind}")
            kind = wanted
            if wanted == "bytes":
                item = _bytes(item)
            elif item_type is float and abs(item) > _FLOAT32_MAX and math.isfinite(item):
                raise _lossy_error(item, "float")
            elif item_type is int and item >= 2**63:
                raise invalid_argument(
                    f"Feature: {name} has uint64_t element. Only int64_t is supported.")
            elif item_type is int and item < -(2**63):
                raise _lossy_error(item, "int64")
            values.append(int(item) if item_type is bool else item)
        if kind is not None:
            getattr(feature, f"{kind}_list").value.extend(values)


def classify_response(response):
    """`{"results": [[[label, score], ...], ...]}`, scores as shortest float32s."""
    rows = response.result.classifications
    if not rows:
        raise invalid_argument("Cannot convert empty ClassificationResults to JSON")
    scores = iter(_shortest_float32([entry.score for row in rows for entry in row.classes]))
    results = [[[entry.label, next(scores)] for entry in row.classes] for row in rows]
    return _dumps({"results": results})


def regress_response(response):
    """`{"results": [value, ...]}`, as shortest float32s."""
    regressions = response.result.regressions
    if not regressions:
        raise invalid_argument("Cannot convert empty RegressionResults to JSON")
    return _dumps({"results": _shortest_float32([regression.value for regression in regressions])})


def model_status(response):
    """The body of a model status GET, every field of the response."""
    return _dumps(_proto_dict(response))


def metadata(response):
    """The body of a metadata GET, its `SignatureDefMap` unpacked from `Any`."""
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    if "signature_def" not in response.metadata:
        problem = "Failed to find 'signature_def' key in the GetModelMetadataResponse metadata map."
    elif not response.metadata["signature_def"].Unpack(signature_defs):
        problem = "Failed to unpack 'Any' object to 'SignatureDefMap'."
    else:
        return _dumps({"model_spec": _proto_dict(response.model_spec),
                       "metadata": {"signature_def": _proto_dict(signature_defs)}})
    raise ServingError(grpc.StatusCode.INTERNAL, problem)


def _proto_dict(message):
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def _dumps(document):
    # ASCII: a lone surrogate echoed from a request stays an escape, not an encode error.
    return json.dumps(document).encode("ascii")


def _parse_error(reason):
    return invalid_argument(f"JSON Parse error: {reason}")


def _value_error(value, problem):
    return invalid_argument(f"JSON Value: {_value_text(value)} {problem}")


def _lossy_error(value, type_name):
    precision = f"{type_name} without loss of precision."
    return invalid_argument(f"Cannot convert JSON value: {_value_text(value)} to {precision}")


def _value_text(value):
    """A JSON value as TF Serving quotes it in error messages."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except RecursionError:
        return f"<{_json_type(value)} nested too deep to print>"


def _json_type(value):
    return str(value) if type(value) is bool else _JSON_TYPES.get(type(value), "Number")


def _is_b64_object(value):
    return type(value) is dict and len(value) == 1 and type(value.get("b64")) is str


def _is_named_element(value):
    return type(value) is dict and not _is_b64_object(value)


def _bytes(value):
    """A JSON string's UTF-8 (a lone surrogate kept) or a `{"b64": ...}` object's bytes."""
    if type(value) is str:
        return value.encode("utf-8", "surrogatepass")
    if not _is_b64_object(value):
        raise _value_error(value, "not formatted correctly for base64 data")
    text = "".join(value["b64"].split())
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise invalid_argument("Unable to base64 decode") from None

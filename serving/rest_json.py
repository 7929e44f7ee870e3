"""The JSON of TF Serving's REST API, as `tensorflow-serving-api` protos.

Request bodies become the request protos a gRPC client sends, and response
protos become the bodies TF Serving answers with, so both front ends share
everything past this module. Malformed bodies fail with TF Serving's status
codes and the wording of its messages, always as a `ServingError`; no HTTP
status lives here.

Dropped on purpose from TF Serving's rapidjson: bodies are read by Python's
`json`, so a parse error gives Python's offset and names only the common
faults, and a repeated key keeps its last value; responses are compact JSON,
not rapidjson's pretty-printed layout.
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
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2

from serving.errors import ServingError
from serving.errors import invalid_argument
from serving.tensors import dtype_name
from serving.tensors import to_ndarray

DEFAULT_SIGNATURE_NAME = "serving_default"
# TensorFlow's TensorShape::MaxDimensions(); it also bounds the recursion
# that reads nested lists.
MAX_TENSOR_RANK = 254
# Output aliases with this suffix hold binary data, written as {"b64": ...}.
BYTES_OUTPUT_SUFFIX = "_bytes"

# The dtypes JSON can express: their TensorProto field and NumPy type.
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: ("float_val", np.float32),
    types_pb2.DT_DOUBLE: ("double_val", np.float64),
    types_pb2.DT_INT8: ("int_val", np.int8),
    types_pb2.DT_INT16: ("int_val", np.int16),
    types_pb2.DT_INT32: ("int_val", np.int32),
    types_pb2.DT_UINT8: ("int_val", np.uint8),
    types_pb2.DT_INT64: ("int64_val", np.int64),
    types_pb2.DT_UINT32: ("uint32_val", np.uint32),
    types_pb2.DT_UINT64: ("uint64_val", np.uint64),
    types_pb2.DT_BOOL: ("bool_val", np.bool_),
    types_pb2.DT_STRING: ("string_val", object),
}
# JSON integers each integer dtype accepts: TF Serving checks the narrow ones
# as int32, and TensorFlow truncates them.
_INTEGER_RANGES = {
    **dict.fromkeys(
        (types_pb2.DT_INT8, types_pb2.DT_INT16, types_pb2.DT_INT32, types_pb2.DT_UINT8),
        (-(2**31), 2**31),
    ),
    types_pb2.DT_INT64: (-(2**63), 2**63),
    types_pb2.DT_UINT32: (0, 2**32),
    types_pb2.DT_UINT64: (0, 2**64),
}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# Python's json messages -> rapidjson's, for the common faults.
_PARSE_ERRORS = {
    "Expecting value": "Invalid value.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
    "Invalid \\escape": "Invalid escape character in string.",
    "Invalid control character at": "Invalid escape character in string.",
    "Invalid \\uXXXX escape": "Incorrect hex digit after \\u escape in string.",
}
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


# --- Bodies ------------------------------------------------------------------


def parse_body(body):
    """Parses a request body; NaN, Infinity and -Infinity are numbers.

    As TF Serving, the first JSON value is read and any bytes after it ignored.

    Args:
        body: The request body, UTF-8 `bytes` (already gunzipped).

    Returns:
        The top-level JSON object, a `dict`.

    Raises:
        ServingError: INVALID_ARGUMENT `JSON Parse error: ...` for an empty
            body, bad JSON, bytes that are not UTF-8 or nesting too deep for
            the parser; `JSON Value: ... Is not object` for another top level.
    """
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        text, bad_byte = body.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        # Read anyway, so that a syntax error is reported first, as rapidjson does.
        text, bad_byte = body.decode("utf-8-sig", "surrogateescape"), error.start
    try:
        decoder = _CHECKING_DECODER if _HUGE_LITERAL.search(text) else _DECODER
        document, _ = decoder.raw_decode(text, _LEADING_WHITESPACE.match(text).end())
    except json.JSONDecodeError as error:
        if not text.strip():
            description = "The document is empty."
        else:
            description = _PARSE_ERRORS.get(error.msg, error.msg + ".")
        offset = len(text[: error.pos].encode("utf-8", "surrogateescape"))
        raise invalid_argument(f"JSON Parse error: {description} at offset: {offset}") from None
    except ValueError:  # An integer literal longer than Python converts.
        raise invalid_argument("JSON Parse error: Number too big to be stored in double.") from None
    except RecursionError:
        raise invalid_argument("JSON Parse error: Nesting is too deep.") from None
    if bad_byte is not None:
        raise invalid_argument(
            f"JSON Parse error: Invalid encoding in string. at offset: {bad_byte}"
        )
    if type(document) is not dict:
        raise invalid_argument(f"JSON Value: {_value_text(document)} Is not object")
    return document


def decompress_gzip(body, max_bytes):
    """Uncompresses a `Content-Encoding: gzip` body, inflating at most `max_bytes + 1`.

    Args:
        body: The compressed body, `bytes` (one or more gzip members).
        max_bytes: The most bytes the uncompressed body may have.

    Returns:
        The uncompressed body, `bytes`.

    Raises:
        ServingError: RESOURCE_EXHAUSTED over `max_bytes`; for a body that is
            not gzip, what TF Serving answers (it passes such a body on as
            empty): INVALID_ARGUMENT `JSON Parse error: The document is empty`.
    """
    output = bytearray()
    data = bytes(body)
    while data:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            output += decompressor.decompress(data, max_bytes - len(output) + 1)
        except zlib.error:
            raise invalid_argument("JSON Parse error: The document is empty") from None
        if len(output) > max_bytes:
            raise ServingError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Request body is larger than {max_bytes} bytes once uncompressed",
            )
        if not decompressor.eof:
            raise invalid_argument("JSON Parse error: The document is empty")
        data = decompressor.unused_data
    return bytes(output)


def signature_name(document):
    """The signature a parsed body names: `serving_default` if absent or empty.

    Raises:
        ServingError: INVALID_ARGUMENT when `signature_name` is not a string.
    """
    name = document.get("signature_name", "")
    if type(name) is not str:
        raise invalid_argument(
            f"JSON Value: {_value_text(document)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return name or DEFAULT_SIGNATURE_NAME


def error_body(message):
    """The body of a REST error, `{"error": message}`, as `bytes`."""
    return _dumps({"error": message})


# --- Predict -----------------------------------------------------------------


def predict_request(document, model_spec, signature_def):
    """Turns a parsed `:predict` body into a `PredictRequest`.

    As TF Serving, call it once the model and signature are found (and
    `signature_name()` before looking them up).

    Args:
        document: The parsed body (`parse_body()`).
        model_spec: A `ModelSpec` naming the model and its version or label.
        signature_def: The `SignatureDef` the body names; its inputs' dtypes
            decide how JSON values convert. Shapes are not checked here.

    Returns:
        `(request, row_format)`: the request, with `model_spec` copied, its
        `signature_name` set and one typed TensorProto per input; whether the
        body used `instances` (answer `predictions`), not `inputs` (`outputs`).

    Raises:
        ServingError: INVALID_ARGUMENT for wrong types, shapes, names, keys or
            base64; UNIMPLEMENTED for a columnar input of a dtype JSON cannot
            express (row format wraps it in INVALID_ARGUMENT, as TF Serving).
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.CopyFrom(model_spec)
    request.model_spec.signature_name = signature_name(document)
    dtypes = {alias: info.dtype for alias, info in signature_def.inputs.items()}
    if not dtypes:
        name = document.get("signature_name") or "DEFAULT"
        raise invalid_argument(f"Failed to get input map for signature: {name}")
    row_format = "instances" in document
    if row_format and "inputs" in document:
        raise invalid_argument(
            f"JSON Value: {_value_text(document)} Not formatted correctly expecting only "
            "one of 'inputs' or 'instances' keys to exist "
        )
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
            field, numpy_type = _VALUE_FIELDS[tensor.dtype]
            if field == "int_val":  # TensorFlow truncates int32 to narrower types.
                values = np.array(values, np.int64).astype(numpy_type).tolist()
            getattr(tensor, field).extend(values)
    return request, row_format


def _tensors_from_instances(document, dtypes):
    """Row format: `{alias: (shape, flat values)}`, one batch row per instance."""
    instances = document["instances"]
    if type(instances) is not list:
        raise invalid_argument(
            f"JSON Value: {_value_text(document)} Expecting 'instances' to be an list/array"
        )
    if not instances:
        raise invalid_argument(
            f"JSON Value: {_value_text(document)} No values in 'instances' array"
        )
    if type(instances[0]) is not dict and len(dtypes) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input "
            "tensors required as per tensorinfo_map"
        )
    named = _is_named_element(instances[0])
    tensors = {}
    for index, element in enumerate(instances):
        if _is_named_element(element) != named:
            found = "object but got list" if named else "value/list but got object"
            raise invalid_argument(f"Expecting {found} at item {index} of input list")
        for alias, item in element.items() if named else [(next(iter(dtypes)), element)]:
            try:
                _add_instance(tensors, alias, item, dtypes)
            except ServingError as error:
                key = f" key: {alias}" if named else ""
                raise invalid_argument(
                    f"Failed to process element: {index}{key} of 'instances' list. "
                    f"Error: {error.code.name}: {error.message}"
                ) from None
        if named and sorted(element) != sorted(dtypes):
            raise invalid_argument(
                f"Failed to process element: {index} of 'instances' list. JSON object: "
                f"{_value_text(element)} keys must be equal to: {','.join(sorted(dtypes))}"
            )
    return {alias: ([len(instances), *shape], values) for alias, (shape, values) in tensors.items()}


def _add_instance(tensors, alias, item, dtypes):
    if alias not in dtypes:
        raise invalid_argument(f"JSON object: does not have named input: {alias}")
    shape, values = _read_tensor(item, dtypes[alias])
    if alias not in tensors:
        tensors[alias] = (shape, values)
        return
    expected, batch_values = tensors[alias]
    if math.prod(expected) != len(values):
        raise invalid_argument(
            f"Expecting tensor size: {math.prod(expected)} but got: {len(values)}"
        )
    if expected != shape:
        raise invalid_argument(
            f"Expecting shape [{','.join(map(str, expected))}] but got: "
            f"[{','.join(map(str, shape))}]"
        )
    batch_values.extend(values)


def _tensors_from_inputs(inputs, dtypes):
    """Columnar format: `{alias: (shape, flat values)}`; extra names are ignored."""
    if type(inputs) is not dict or _is_b64_object(inputs):
        if len(dtypes) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
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
        if not item:
            break
        item = item[0]
    if len(shape) > MAX_TENSOR_RANK:
        raise invalid_argument(
            f"JSON lists nest {len(shape)} deep, over the {MAX_TENSOR_RANK} dimensions "
            "a tensor may have"
        )
    values = []
    _fill(value, 0, shape, _converter(dtype), values)
    return shape, values


def _fill(value, level, shape, convert, values):
    """FillTensorProto(): depth first, so the first fault found is TF Serving's."""
    rank = len(shape)
    if type(value) is not list:
        if level != rank:
            raise invalid_argument(
                f"JSON Value: {_value_text(value)} found at incorrect level: {level + 1} "
                f"in the JSON DOM. Expected at level: {rank}"
            )
        values.append(convert(value))
    elif level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    elif len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    elif level == rank - 1 and list not in map(type, value):  # Innermost: no recursion.
        values.extend(map(convert, value))
    else:
        for item in value:
            _fill(item, level + 1, shape, convert, values)


@functools.cache
def _converter(dtype):
    """AddValueToTensor() for `dtype`: checks one JSON value and converts it."""
    type_name = dtype_name(dtype)
    # rapidjson's IsLosslessDecimal(): integers must fit the significand,
    # finite decimals the range.
    single = dtype == types_pb2.DT_FLOAT
    largest_integer, largest = (2**24 - 1, _FLOAT32_MAX) if single else (2**53 - 1, math.inf)
    low, high = _INTEGER_RANGES.get(dtype, (0, 0))

    def type_error(value):
        return invalid_argument(
            f"JSON Value: {_value_text(value)} Type: {_json_type(value)} "
            f"is not of expected type: {type_name}"
        )

    def to_bytes(value):
        if type(value) is str:
            return value.encode("utf-8", "surrogatepass")  # Keeps a lone "\udc00".
        if type(value) is dict:
            return _decode_b64_object(value)
        raise type_error(value)

    def to_decimal(value):
        kind = type(value)
        if kind is float and (abs(value) <= largest or not math.isfinite(value)):
            return value
        if kind is int and abs(value) <= largest_integer:
            return value
        raise _lossy_error(value, type_name) if kind in (int, float) else type_error(value)

    def to_integer(value):
        if type(value) is int and low <= value < high:
            return value
        raise type_error(value)

    def to_bool(value):
        if type(value) is bool:
            return value
        raise type_error(value)

    def unsupported(value):
        if type(value) is dict:
            raise type_error(value)
        raise ServingError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"Conversion of JSON Value: {_value_text(value)} to type: {type_name}",
        )

    if dtype == types_pb2.DT_STRING:
        return to_bytes
    if dtype in (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        return to_decimal
    if dtype in _INTEGER_RANGES:
        return to_integer
    return to_bool if dtype == types_pb2.DT_BOOL else unsupported


def predict_response(response, row_format):
    """Writes a `:predict` answer.

    Args:
        response: A `PredictResponse` (typed value fields or `tensor_content`).
        row_format: True when the request used `instances`.

    Returns:
        `bytes`: `{"predictions": [...]}`, an entry per index of dimension 0
        (an object of the outputs when there are several), or `{"outputs":
        ...}`. float32 values are written as their shortest float32 decimal,
        float64 as Python's repr, non-finite ones as NaN, Infinity, -Infinity.
        DT_STRING outputs whose alias ends in `_bytes` are `{"b64": ...}`,
        others text, with U+FFFD for bytes that are not UTF-8.

    Raises:
        ServingError: INVALID_ARGUMENT for no outputs, in row format a scalar
            output or outputs of different dimension 0, a dtype JSON cannot
            express (e.g. half, complex64), or a tensor that cannot be read.
    """
    outputs = response.outputs
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    if row_format:
        batch_size = None
        for alias, tensor in outputs.items():
            dims = tensor.tensor_shape.dim
            if not dims:
                raise invalid_argument(f"Tensor name: {alias} has no shape information ")
            if batch_size is not None and dims[0].size != batch_size:
                raise invalid_argument(
                    f"Tensor name: {alias} has inconsistent batch size: {dims[0].size} "
                    f"expecting: {batch_size}"
                )
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
            f"Failed to write JSON value for tensor type: {dtype_name(tensor.dtype)}"
        )
    array = to_ndarray(tensor, alias)
    if tensor.dtype == types_pb2.DT_FLOAT:
        return _shortest_float32(array).tolist()
    if tensor.dtype != types_pb2.DT_STRING:
        return array.tolist()
    if alias.endswith(BYTES_OUTPUT_SUFFIX):
        texts = [{"b64": base64.b64encode(value).decode("ascii")} for value in array.flat]
    else:
        texts = [value.decode("utf-8", "replace") for value in array.flat]
    strings = np.empty(len(texts), object)
    strings[:] = texts
    return strings.reshape(array.shape).tolist()


def _shortest_float32(values):
    """float64s whose repr is the shortest decimal that reads back as each float32."""
    values = np.asarray(values, np.float32)
    if values.size <= 16:  # NumPy's vectorised path costs more for a few values
        return np.array([float(str(value)) for value in values.flat]).reshape(values.shape)
    return values.astype(str).astype(np.float64)


# --- Classify and regress ----------------------------------------------------


def classification_request(document, model_spec):
    """Turns a parsed `:classify` body into a `ClassificationRequest`.

    Args:
        document: `{"signature_name"?, "context"?, "examples": [...]}`.
        model_spec: A `ModelSpec` naming the model and its version or label.

    Returns:
        The request: `input.example_list_with_context` when the body has a
        `context`, else `input.example_list`; a `tf.train.Example` per entry of
        `examples`.

    Raises:
        ServingError: INVALID_ARGUMENT for a bad `signature_name`; a missing,
            non-list or empty `examples`; an example or context that is not an
            object; feature values a `tf.train.Feature` cannot hold.
    """
    return _example_request(classification_pb2.ClassificationRequest(), document, model_spec)


def regression_request(document, model_spec):
    """As `classification_request()`, for a `RegressionRequest` (same messages)."""
    return _example_request(regression_pb2.RegressionRequest(), document, model_spec)


def _example_request(request, document, model_spec):
    request.model_spec.CopyFrom(model_spec)
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
    raise invalid_argument(f"JSON Value: {_value_text(document)} {problem}")


def _fill_example(value, example):
    if type(value) is not dict:
        raise invalid_argument(f"Example must be JSON object but got JSON {_json_type(value)}")
    for name, content in value.items():
        _fill_feature(name, content, example.features.feature[name])


def _fill_feature(name, content, feature):
    """AddValueToFeature(): int64, float or bytes values, one kind per feature."""
    kind = None
    values = []
    for value in content if type(content) is list else [content]:
        value_type = type(value)
        if value is None or value_type is list or value_type is dict and not _is_b64_object(value):
            raise invalid_argument(
                f"Feature: {name} has element with unexpected JSON type: {_json_type(value)}"
            )
        wanted = {str: "bytes", dict: "bytes", float: "float"}.get(value_type, "int64")
        if kind not in (None, wanted):
            raise invalid_argument(
                f"Unexpected element type in feature: {name} expecting type: {kind}"
            )
        kind = wanted
        if value_type is str:
            value = value.encode("utf-8", "surrogatepass")
        elif value_type is dict:
            value = _decode_b64_object(value)
        elif value_type is float and abs(value) > _FLOAT32_MAX and math.isfinite(value):
            raise _lossy_error(value, "float")
        elif value_type is int and value >= 2**63:
            raise invalid_argument(
                f"Feature: {name} has uint64_t element. Only int64_t is supported."
            )
        elif value_type is int and value < -(2**63):
            raise _lossy_error(value, "int64")
        values.append(int(value) if value_type is bool else value)
    if kind is not None:
        getattr(feature, f"{kind}_list").value.extend(values)


def classify_response(response):
    """Writes a `:classify` answer.

    Args:
        response: A `ClassificationResponse`.

    Returns:
        `bytes`: `{"results": [[[label, score], ...], ...]}`, a list per
        example, scores as their shortest float32 decimal.

    Raises:
        ServingError: INVALID_ARGUMENT when there are no classifications.
    """
    rows = response.result.classifications
    if not rows:
        raise invalid_argument("Cannot convert empty ClassificationResults to JSON")
    scores = _shortest_float32([entry.score for row in rows for entry in row.classes]).tolist()
    scores = iter(scores)
    results = [[[entry.label, next(scores)] for entry in row.classes] for row in rows]
    return _dumps({"results": results})


def regress_response(response):
    """Writes a `:regress` answer.

    Args:
        response: A `RegressionResponse`.

    Returns:
        `bytes`: `{"results": [value, ...]}`, values as their shortest float32
        decimal.

    Raises:
        ServingError: INVALID_ARGUMENT when there are no regressions.
    """
    regressions = response.result.regressions
    if not regressions:
        raise invalid_argument("Cannot convert empty RegressionResults to JSON")
    values = _shortest_float32([regression.value for regression in regressions])
    return _dumps({"results": values.tolist()})


# --- Model status and metadata -------------------------------------------------


def model_status(response):
    """The body of `GET /v1/models/{name}[/versions/N | /labels/L]`.

    Args:
        response: A `GetModelStatusResponse`.

    Returns:
        `bytes`: `{"model_version_status": [{"version": "N", "state": ...,
        "status": {"error_code": ..., "error_message": ...}}, ...]}`.
    """
    return _dumps(_proto_dict(response))


def metadata(response):
    """The body of `GET /v1/models/{name}[...]/metadata`.

    Args:
        response: A `GetModelMetadataResponse` whose `metadata["signature_def"]`
            packs a `SignatureDefMap`.

    Returns:
        `bytes`: `{"model_spec": {...}, "metadata": {"signature_def":
        {"signature_def": {...}}}}`, the map unpacked from its `Any`.

    Raises:
        ServingError: INTERNAL when the map is missing or not a `SignatureDefMap`.
    """
    if "signature_def" not in response.metadata:
        raise ServingError(
            grpc.StatusCode.INTERNAL,
            "Failed to find 'signature_def' key in the GetModelMetadataResponse metadata map.",
        )
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata["signature_def"].Unpack(signature_defs):
        raise ServingError(
            grpc.StatusCode.INTERNAL, "Failed to unpack 'Any' object to 'SignatureDefMap'."
        )
    return _dumps({
        "model_spec": _proto_dict(response.model_spec),
        "metadata": {"signature_def": _proto_dict(signature_defs)},
    })


def _proto_dict(message):
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


# --- Helpers -------------------------------------------------------------------


def _dumps(document):
    # ASCII: a lone surrogate (a request's "\udc00", echoed in an error
    # message) stays an escape instead of failing to encode.
    return json.dumps(document).encode("ascii")


def _value_text(value):
    """A JSON value as TF Serving quotes it in error messages."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except RecursionError:
        return f"<{_json_type(value)} nested too deep to print>"


def _json_type(value):
    if value is None:
        return "Null"
    if type(value) is bool:
        return "True" if value else "False"
    return {dict: "Object", list: "Array", str: "String"}.get(type(value), "Number")


def _lossy_error(value, type_name):
    return invalid_argument(
        f"Cannot convert JSON value: {_value_text(value)} to {type_name} without loss of precision."
    )


def _is_b64_object(value):
    return type(value) is dict and len(value) == 1 and type(value.get("b64")) is str


def _is_named_element(value):
    return type(value) is dict and not _is_b64_object(value)


def _decode_b64_object(value):
    """The bytes of `{"b64": ...}`: standard alphabet, padding optional."""
    if not _is_b64_object(value):
        raise invalid_argument(
            f"JSON Value: {_value_text(value)} not formatted correctly for base64 data"
        )
    text = "".join(value["b64"].split())
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise invalid_argument("Unable to base64 decode") from None

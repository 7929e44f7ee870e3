"""TensorProto <-> NumPy, as TF Serving reads requests and writes responses.

Requests may carry a tensor in its typed `*_val` fields or packed in
`tensor_content`; `tf.make_ndarray` reads both. A proto may hold fewer
values than its shape has elements (TensorFlow repeats the last one), so a
39-byte tensor can claim a million rows: `to_ndarray` checks the claimed
size against the server's limits before anything is allocated. TF Serving
answers with the typed fields (`tensor_content` only with
`--enable_serialization_as_tensor_content`), and so does `to_tensor_proto`.
"""

import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from serving.errors import invalid_argument

# dtype -> the TensorProto field TF Serving fills for it.
_TYPED_FIELDS = {
    tf.float32: "float_val",
    tf.float64: "double_val",
    tf.int32: "int_val",
    tf.int16: "int_val",
    tf.int8: "int_val",
    tf.uint8: "int_val",
    tf.uint16: "int_val",
    tf.int64: "int64_val",
    tf.uint32: "uint32_val",
    tf.uint64: "uint64_val",
    tf.bool: "bool_val",
    tf.string: "string_val",
}


# DataType enum -> (typed field, NumPy type) where the field holds the dtype
# itself, so its values convert without a cast that could change them.
_TYPED_ARRAYS = {
    types_pb2.DT_FLOAT: ("float_val", np.float32),
    types_pb2.DT_DOUBLE: ("double_val", np.float64),
    types_pb2.DT_INT32: ("int_val", np.int32),
    types_pb2.DT_INT64: ("int64_val", np.int64),
    types_pb2.DT_BOOL: ("bool_val", np.bool_),
    types_pb2.DT_STRING: ("string_val", object),
}


def dtype_name(enum):
    """TensorFlow's name of a DataType enum: "float", "string", "int64"."""
    try:
        return types_pb2.DataType.Name(enum)[3:].lower()
    except ValueError:
        return f"unknown dtype {enum}"


def shape_of(proto):
    """The dims a TensorProto claims, or None for an unknown rank."""
    if proto.tensor_shape.unknown_rank:
        return None
    return [dim.size for dim in proto.tensor_shape.dim]


def to_ndarray(proto, alias, max_rows=None, max_elements=None):
    """The NumPy array of a request's TensorProto.

    Args:
        proto: The TensorProto.
        alias: The input's name, for messages.
        max_rows: The most rows (dimension 0) a tensor may have, or None.
        max_elements: The most elements a tensor may have, or None.

    Raises:
        ServingError: INVALID_ARGUMENT for a tensor over a limit (the
            message names it) or one that cannot be parsed.
    """
    shape = shape_of(proto)
    if shape and max_rows is not None and shape[0] > max_rows:
        raise invalid_argument(
            f"Input {alias} has {shape[0]} rows (batch elements); this server takes at most "
            f"{max_rows} per request (--max_request_rows)")
    if shape is not None and max_elements is not None and math.prod(shape) > max_elements:
        raise invalid_argument(
            f"Input {alias} has {math.prod(shape)} elements; this server takes at most "
            f"{max_elements} per tensor")
    typed = _TYPED_ARRAYS.get(proto.dtype)
    if typed is not None and shape is not None and not proto.tensor_content:
        field, numpy_type = typed
        values = getattr(proto, field)
        if len(values) == math.prod(shape):  # the common case, without TensorFlow's checks
            return np.array(values, numpy_type).reshape(shape)
    try:
        return tf.make_ndarray(proto)
    except Exception:  # wrong element counts, unknown dtypes, bad content
        raise invalid_argument(f"tensor parsing error: {alias}") from None


def to_tensor_proto(array, tensor_content=False):
    """A TensorProto of `array`: typed fields, or packed bytes if asked."""
    array = np.asarray(array)
    if array.dtype.kind in "OSU":
        dtype = tf.string
    else:
        dtype = tf.as_dtype(array.dtype)
    field = _TYPED_FIELDS.get(dtype)
    if tensor_content or field is None:
        return tf.make_tensor_proto(array, dtype=dtype)
    proto = tensor_pb2.TensorProto(
        dtype=dtype.as_datatype_enum,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape]
        ),
    )
    flat = array.ravel()
    if dtype == tf.string:
        values = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat]
    else:
        values = flat.tolist()
    getattr(proto, field).extend(values)
    return proto

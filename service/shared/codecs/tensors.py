"""TensorProto to NumPy and back, without TensorFlow's eager machinery on the request path.

Incoming tensors are checked before anything is allocated: a declared shape must agree with the
bytes or values that came with it.
"""

from math import prod

import numpy as np

from service.protos.tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from service.shared.errors import InvalidArgument

# DataType -> (NumPy dtype, typed field of TensorProto that carries values of that type).
_TYPES: dict[int, tuple[np.dtype, str]] = {
    types_pb2.DT_FLOAT: (np.dtype(np.float32), "float_val"),
    types_pb2.DT_DOUBLE: (np.dtype(np.float64), "double_val"),
    types_pb2.DT_HALF: (np.dtype(np.float16), "half_val"),
    types_pb2.DT_INT8: (np.dtype(np.int8), "int_val"),
    types_pb2.DT_INT16: (np.dtype(np.int16), "int_val"),
    types_pb2.DT_INT32: (np.dtype(np.int32), "int_val"),
    types_pb2.DT_INT64: (np.dtype(np.int64), "int64_val"),
    types_pb2.DT_UINT8: (np.dtype(np.uint8), "int_val"),
    types_pb2.DT_UINT16: (np.dtype(np.uint16), "int_val"),
    types_pb2.DT_UINT32: (np.dtype(np.uint32), "uint32_val"),
    types_pb2.DT_UINT64: (np.dtype(np.uint64), "uint64_val"),
    types_pb2.DT_BOOL: (np.dtype(np.bool_), "bool_val"),
    types_pb2.DT_STRING: (np.dtype(object), "string_val"),
}
_DTYPE_TO_ENUM = {dtype: enum for enum, (dtype, _) in _TYPES.items() if dtype.kind != "O"}
# NumPy's limits on an array's shape, whatever the request's byte limit.
MAX_RANK = 64
MAX_ELEMENTS = 2**59


def numpy_dtype(enum: int) -> np.dtype:
    """The NumPy dtype for a TensorFlow DataType, or InvalidArgument if it is not supported."""
    try:
        return _TYPES[enum][0]
    except KeyError:
        raise InvalidArgument(f"unsupported dtype {types_pb2.DataType.Name(enum)}") from None


def shape_of(proto: tensor_shape_pb2.TensorShapeProto, what: str) -> tuple[int, ...]:
    """The dimensions of a request tensor, refusing unknown rank and negative sizes."""
    if proto.unknown_rank:
        raise InvalidArgument(f"{what}: shape has unknown rank")
    if len(proto.dim) > MAX_RANK:
        raise InvalidArgument(f"{what}: shape has {len(proto.dim)} dimensions; at most {MAX_RANK}")
    dims = tuple(d.size for d in proto.dim)
    if any(d < 0 for d in dims):
        raise InvalidArgument(f"{what}: shape {list(dims)} has a negative dimension")
    # NumPy refuses such a shape even when another dimension is 0 and the tensor is empty.
    if prod(d for d in dims if d) > MAX_ELEMENTS:
        raise InvalidArgument(f"{what}: shape {list(dims)} is too large")
    return dims


def to_numpy(proto: tensor_pb2.TensorProto, what: str, max_bytes: int) -> np.ndarray:
    """Decode a request TensorProto, checking its declared shape against its contents."""
    dtype = numpy_dtype(proto.dtype)
    shape = shape_of(proto.tensor_shape, what)
    count = prod(shape)
    if dtype.kind == "O":
        values = proto.string_val
        if len(values) != count:
            raise InvalidArgument(
                f"{what}: shape {list(shape)} needs {count} strings, got {len(values)}"
            )
        return np.array(list(values), dtype=object).reshape(shape)
    if count * dtype.itemsize > max_bytes:
        raise InvalidArgument(
            f"{what}: shape {list(shape)} declares {count * dtype.itemsize} bytes, "
            f"over the limit of {max_bytes}"
        )
    if proto.tensor_content:
        content = proto.tensor_content
        if len(content) != count * dtype.itemsize:
            raise InvalidArgument(
                f"{what}: tensor_content has {len(content)} bytes; shape {list(shape)} of "
                f"{dtype.name} needs {count * dtype.itemsize}"
            )
        return np.frombuffer(content, dtype=dtype).reshape(shape)
    field = _TYPES[proto.dtype][1]
    values = getattr(proto, field)
    if len(values) == count:
        array = np.array(values, dtype=np.uint16 if field == "half_val" else dtype)
    elif len(values) == 1 and count > 0:
        # TensorFlow's compact form: one value stands for every element.
        array = np.full(count, values[0], dtype=np.uint16 if field == "half_val" else dtype)
    else:
        raise InvalidArgument(
            f"{what}: shape {list(shape)} needs {count} values in {field}, got {len(values)}"
        )
    if field == "half_val":
        array = array.view(np.float16)
    return array.reshape(shape)


def from_numpy(
    array: np.ndarray, proto: tensor_pb2.TensorProto, tensor_content: bool = False
) -> None:
    """Fill `proto` the way TensorFlow Serving does: dtype, shape, and the typed value field,
    or little-endian `tensor_content` bytes for numeric arrays when asked."""
    if array.dtype == object or array.dtype.kind in "SU":
        proto.dtype = types_pb2.DT_STRING
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in array.flat)
    else:
        try:
            proto.dtype = _DTYPE_TO_ENUM[array.dtype]
        except KeyError:
            raise InvalidArgument(f"cannot send output of dtype {array.dtype}") from None
        if tensor_content:
            proto.tensor_content = np.ascontiguousarray(
                array, array.dtype.newbyteorder("<")
            ).tobytes()
        else:
            field = _TYPES[proto.dtype][1]
            flat = array.ravel()
            if field == "half_val":
                flat = flat.view(np.uint16)
            getattr(proto, field).extend(flat.tolist())
    proto.tensor_shape.dim.extend(
        tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape
    )

"""V2 tensors to NumPy and back: the raw byte form shared by gRPC and REST's binary extension.

Raw tensors are little-endian, row-major; a BYTES element is a 4-byte little-endian length and
then its bytes. Every declared shape is checked against the bytes or values that came with it
before anything of the shape's size is allocated.
"""

import struct
from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from service.shared.codecs.v2_datatypes import BYTES, numpy_dtype
from service.shared.errors import InvalidArgument

# NumPy's limits on a shape, as for TensorFlow Serving's tensors (service/shared/codecs/tensors.py).
MAX_RANK = 64
MAX_ELEMENTS = 2**59
_LENGTH = struct.Struct("<I")


def request_shape(shape: Any, what: str) -> tuple[int, ...]:
    """A request tensor's shape: a list of sizes, none negative (-1 is for metadata only)."""
    if not isinstance(shape, Sequence) or isinstance(shape, (str, bytes)):
        raise InvalidArgument(f"{what}: 'shape' must be a list of sizes")
    if len(shape) > MAX_RANK:
        raise InvalidArgument(f"{what}: shape has {len(shape)} dimensions; at most {MAX_RANK}")
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise InvalidArgument(f"{what}: shape {list(shape)[:MAX_RANK]} must hold integers")
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise InvalidArgument(f"{what}: shape {list(dims)} has a negative dimension")
    if prod(d for d in dims if d) > MAX_ELEMENTS:
        raise InvalidArgument(f"{what}: shape {list(dims)} is too large")
    return dims


def from_raw(datatype: str, shape: tuple[int, ...], raw: bytes, what: str) -> np.ndarray:
    """Decode raw bytes as a tensor of `datatype` and `shape`, refusing a length that lies."""
    dtype = numpy_dtype(datatype, what)
    count = prod(shape)
    if datatype == BYTES:
        return np.array(_split_bytes(raw, count, shape, what), dtype=object).reshape(shape)
    need = count * dtype.itemsize
    if len(raw) != need:
        raise InvalidArgument(
            f"{what}: the raw contents have {len(raw)} bytes; shape {list(shape)} of "
            f"{datatype} needs {need}"
        )
    if dtype.kind == "b":
        return (np.frombuffer(raw, dtype=np.uint8) != 0).reshape(shape)
    array = np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    return array.astype(dtype, copy=False).reshape(shape)


def _split_bytes(raw: bytes, count: int, shape: tuple[int, ...], what: str) -> list[bytes]:
    # Each element takes at least its 4-byte length: a shape beyond that is refused before
    # a list of its size exists.
    if count * _LENGTH.size > len(raw):
        raise InvalidArgument(
            f"{what}: shape {list(shape)} of BYTES needs at least {count * _LENGTH.size} bytes "
            f"of lengths; the raw contents have {len(raw)}"
        )
    elements = []
    offset = 0
    view = memoryview(raw)
    for index in range(count):
        if offset + _LENGTH.size > len(raw):
            raise InvalidArgument(f"{what}: the raw contents end inside element {index}'s length")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise InvalidArgument(
                f"{what}: element {index} declares {length} bytes; only {len(raw) - offset} remain"
            )
        elements.append(bytes(view[offset : offset + length]))
        offset += length
    if offset != len(raw):
        raise InvalidArgument(
            f"{what}: {len(raw) - offset} bytes are left over after {count} BYTES elements "
            f"(shape {list(shape)})"
        )
    return elements


def to_raw(array: np.ndarray) -> bytes:
    """An output's raw bytes, as from_raw reads them."""
    if array.dtype.kind in "OSU":
        parts = []
        for value in array.flat:
            data = value if isinstance(value, bytes) else str(value).encode()
            parts += (_LENGTH.pack(len(data)), data)
        return b"".join(parts)
    little = array.dtype.newbyteorder("<")
    return np.ascontiguousarray(array, dtype=little).tobytes()


def from_values(
    datatype: str, shape: tuple[int, ...], values: Sequence[Any], what: str
) -> np.ndarray:
    """A tensor from a flat sequence of typed values (gRPC's InferTensorContents)."""
    dtype = numpy_dtype(datatype, what)
    count = prod(shape)
    if len(values) != count:
        raise InvalidArgument(
            f"{what}: shape {list(shape)} needs {count} values; the contents have {len(values)}"
        )
    if datatype == BYTES:
        return np.array(list(values), dtype=object).reshape(shape)
    if dtype.kind in "iu":
        # int_contents and uint_contents carry INT8/16 and UINT8/16 widened: refuse what
        # does not fit rather than wrap it.
        wide = np.array(values, dtype=np.int64 if dtype.kind == "i" else np.uint64)
        info = np.iinfo(dtype)
        if wide.size and (wide.min() < info.min or wide.max() > info.max):
            raise InvalidArgument(f"{what}: a value is out of range for {datatype}")
        return wide.astype(dtype).reshape(shape)
    return np.array(values, dtype=dtype).reshape(shape)

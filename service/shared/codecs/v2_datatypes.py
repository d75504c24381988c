"""V2 datatype names and the NumPy dtypes they stand for."""

import numpy as np

from service.shared.errors import InvalidArgument
from service.shared.signature import TensorSpec

BYTES = "BYTES"
DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    BYTES: np.dtype(object),
}
_NAMES = {dtype: name for name, dtype in DATATYPES.items()}
# TensorFlow dtypes NumPy has no dtype for, named as V2 names them (DataType enum values).
_EXOTIC = {14: "BF16"}


def numpy_dtype(datatype: str, what: str) -> np.dtype:
    """The dtype of a request tensor's datatype, or InvalidArgument naming the tensor."""
    try:
        return DATATYPES[datatype]
    except (KeyError, TypeError):
        raise InvalidArgument(
            f"{what}: datatype {str(datatype)[:40]!r} is not a V2 datatype; "
            f"use one of {', '.join(DATATYPES)}"
        ) from None


def datatype_of(dtype: np.dtype) -> str:
    """The V2 name of an array's dtype; strings of any kind are BYTES."""
    if dtype.kind in "OSU":
        return BYTES
    try:
        return _NAMES[dtype]
    except KeyError:
        raise InvalidArgument(f"an output of dtype {dtype} has no V2 datatype") from None


def spec_datatype(spec: TensorSpec) -> str:
    """The V2 datatype a signature's input or output is declared with."""
    if spec.dtype is None:
        return _EXOTIC.get(spec.dtype_enum, f"TF_DTYPE_{spec.dtype_enum}")
    return datatype_of(spec.dtype)


def spec_shape(spec: TensorSpec) -> list[int]:
    """The declared shape, -1 for unknown sizes; an unknown rank is one unknown dimension."""
    return [-1] if spec.shape is None else list(spec.shape)

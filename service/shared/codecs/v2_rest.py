"""V2 REST bodies: JSON tensors, and Triton's binary tensor data extension.

With the extension a body is a JSON header of `Inference-Header-Content-Length` bytes followed
by the inputs' raw bytes, each input saying how many are its own (`binary_data_size`); the
answer is built the same way for the outputs asked for as binary (`binary_data`, or
`binary_data_output` for all).
"""

from math import prod
from typing import Any

import numpy as np

from service.shared.codecs import rest_json as codec
from service.shared.codecs.v2_datatypes import datatype_of, numpy_dtype
from service.shared.codecs.v2_request import (
    SIGNATURE_PARAMETER,
    InferRequest,
    check_names,
    model_query,
)
from service.shared.codecs.v2_tensors import from_raw, request_shape, to_raw
from service.shared.errors import InvalidArgument
from service.shared.signature import TensorSpec

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_SIZE = "binary_data_size"


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary data after it."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidArgument(f"{HEADER_LENGTH} {header_length[:40]!r} is not a byte count")
    length = int(text)
    if length > len(body):
        raise InvalidArgument(f"{HEADER_LENGTH} is {length}, longer than the {len(body)}-byte body")
    return body[:length], body[length:]


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be an object")
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{what} must be true or false")
    return value


def infer_request(name: str, version: str, body: bytes, header_length: str | None) -> InferRequest:
    """Decode a POST .../infer body; every mistake is InvalidArgument naming its place."""
    header, binary = split_body(body, header_length)
    parsed = codec.parse_body(header)
    parameters = _object(parsed.get("parameters"), "'parameters'")
    signature = _string(parameters.get(SIGNATURE_PARAMETER, ""), f"'{SIGNATURE_PARAMETER}'")
    request_id = _string(parsed.get("id", ""), "'id'")
    timeout = parameters.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0
    ):
        raise InvalidArgument("'timeout' must be a count of microseconds")
    all_binary = _bool(parameters.get("binary_data_output", False), "'binary_data_output'")

    listed = parsed.get("inputs")
    if not isinstance(listed, list) or not listed:
        raise InvalidArgument("the body needs 'inputs', a non-empty list of tensors")
    tensors = [_object(t, "each of 'inputs'") for t in listed]
    check_names([t.get("name") for t in tensors], "input")
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for tensor in tensors:
        array, used = _input(tensor, binary, offset)
        inputs[tensor["name"]] = array
        offset += used
    if offset != len(binary):
        raise InvalidArgument(
            f"the body has {len(binary) - offset} bytes of binary data that no input's "
            f"'{BINARY_SIZE}' claims"
        )

    wanted = parsed.get("outputs", [])
    if not isinstance(wanted, list):
        raise InvalidArgument("'outputs' must be a list of {\"name\": ...}")
    outputs = [_object(o, "each of 'outputs'") for o in wanted]
    names = [o.get("name") for o in outputs]
    check_names(names, "output")
    binary_outputs = frozenset(
        o["name"]
        for o in outputs
        if _bool(
            _object(o.get("parameters"), "output parameters").get("binary_data", all_binary),
            "'binary_data'",
        )
    )
    return InferRequest(
        model_query(name, version, signature),
        request_id,
        inputs,
        names,
        binary_outputs,
        all_binary,
        None if timeout is None else timeout / 1e6,
    )


def _input(tensor: dict[str, Any], binary: bytes, offset: int) -> tuple[np.ndarray, int]:
    """One input tensor, and how many bytes of the binary data it took."""
    what = f"input {tensor['name']!r}"
    datatype = tensor.get("datatype")
    dtype = numpy_dtype(datatype, what)
    shape = request_shape(tensor.get("shape"), what)
    parameters = _object(tensor.get("parameters"), f"{what}: 'parameters'")
    size = parameters.get(BINARY_SIZE)
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidArgument(f"{what}: '{BINARY_SIZE}' must be a byte count")
        if "data" in tensor:
            raise InvalidArgument(f"{what}: has both 'data' and '{BINARY_SIZE}'; send one")
        if offset + size > len(binary):
            raise InvalidArgument(
                f"{what}: '{BINARY_SIZE}' is {size}, but only {len(binary) - offset} bytes of "
                "binary data remain"
            )
        return from_raw(datatype, shape, binary[offset : offset + size], what), size
    if "data" not in tensor:
        raise InvalidArgument(f"{what}: needs 'data' (or '{BINARY_SIZE}' with binary data)")
    array = codec.to_array(tensor["data"], TensorSpec(tensor["name"], 0, dtype, None), what)
    count = prod(shape)
    if array.size != count:
        raise InvalidArgument(
            f"{what}: shape {list(shape)} needs {count} values; 'data' has {array.size}"
        )
    return array.reshape(shape), 0


def _json_data(array: np.ndarray) -> list[Any] | None:
    """An output's values as a flat JSON list, or None if they cannot be JSON (bytes that
    are not UTF-8), in which case they go as binary data."""
    if array.dtype.kind not in "OSU":
        return array.ravel().tolist()
    values = []
    for value in array.flat:
        if isinstance(value, bytes):
            try:
                value = value.decode()
            except UnicodeDecodeError:
                return None
        values.append(str(value))
    return values


def infer_response(
    request: InferRequest, model: str, version: int, outputs: dict[str, np.ndarray]
) -> tuple[bytes, int | None]:
    """The answer's body, and its JSON header's length when binary data follows it."""
    order = request.outputs or list(outputs)
    tensors = []
    blobs = []
    for name in order:
        array = outputs[name]
        tensor: dict[str, Any] = {
            "name": name,
            "datatype": datatype_of(array.dtype),
            "shape": list(array.shape),
        }
        binary = name in request.binary_outputs or (
            request.all_binary and name not in request.outputs
        )
        data = None if binary else _json_data(array)
        if data is None:
            blob = to_raw(array)
            tensor["parameters"] = {BINARY_SIZE: len(blob)}
            blobs.append(blob)
        else:
            tensor["data"] = data
        tensors.append(tensor)
    answer: dict[str, Any] = {"model_name": model, "model_version": str(version)}
    if request.id:
        answer["id"] = request.id
    answer["outputs"] = tensors
    header = codec.dumps(answer).encode()
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)

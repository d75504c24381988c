"""TensorFlow Serving's REST JSON to NumPy and tf.Example, and results back to JSON.

Numbers are checked as strictly as tensors over gRPC: strings are not floats, ragged lists are
refused, and a value that does not fit the input's dtype is an error, not a silent overflow.
Floats leave as the exact decimal of their float32 value, so they survive the round trip.
"""

import base64
import binascii
import json
import math
from typing import Any

import numpy as np

from service.protos.tensorflow.core.example import example_pb2, feature_pb2
from service.shared.errors import InvalidArgument
from service.shared.signature import Signature, TensorSpec

MAX_JSON_DEPTH = 64


class _Constant(float):
    """NaN or an infinity written as such, which TensorFlow Serving accepts; unlike a number
    too large for a double, which Python's parser also reads as an infinity."""


_CONSTANTS = {name: _Constant(name) for name in ("NaN", "Infinity", "-Infinity")}


def dumps(payload: Any) -> str:
    """JSON text; NaN and infinities are written as TensorFlow Serving writes them."""
    return json.dumps(payload, separators=(",", ":"))


def parse_body(body: bytes) -> dict[str, Any]:
    """The request object, or InvalidArgument saying why the body is not one."""
    if not body.strip():
        raise InvalidArgument("the request body is empty; send a JSON object")
    try:
        parsed = json.loads(body, parse_constant=_CONSTANTS.__getitem__)
    except RecursionError:
        raise InvalidArgument("the JSON body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidArgument(f"the body is not valid JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise InvalidArgument("the JSON body must be an object")
    return parsed


def _depth(value: Any, limit: int) -> int:
    depth = 0
    while isinstance(value, list) and value:
        depth += 1
        if depth > limit:
            raise InvalidArgument(f"a value is nested deeper than {limit} levels")
        value = value[0]
    return depth


def _decode_b64(value: Any, what: str) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise InvalidArgument(f'{what}: an object in a value must be {{"b64": "..."}}')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error:
            raise InvalidArgument(f"{what}: b64 value is not valid base64") from None
    if isinstance(value, list):
        return [_decode_b64(v, what) for v in value]
    if isinstance(value, str):
        return value.encode()
    raise InvalidArgument(f'{what}: expected strings or {{"b64": ...}}, got {type(value).__name__}')


def to_array(value: Any, spec: TensorSpec | None, what: str) -> np.ndarray:
    """One input's JSON value as an array of the dtype its signature wants."""
    _depth(value, MAX_JSON_DEPTH)
    if spec is not None and spec.dtype == object:
        decoded = _decode_b64(value, what)
        array = np.empty(np.shape(decoded) if isinstance(decoded, list) else (), dtype=object)
        try:
            array[...] = decoded
        except ValueError:
            raise InvalidArgument(f"{what}: rows of different lengths") from None
        return array
    try:
        array = np.asarray(value)
    except ValueError:
        raise InvalidArgument(f"{what}: rows of different lengths (ragged lists)") from None
    if array.dtype.kind not in "biuf":
        got = "mixed or ragged values" if array.dtype == object else "strings"
        raise InvalidArgument(f"{what}: expected numbers, got {got}")
    if array.dtype.kind == "f" and np.isinf(array).any() and _overflows(value):
        raise InvalidArgument(f"{what}: a number is beyond the range of a double")
    want = spec.dtype if spec is not None and spec.dtype is not None else array.dtype
    if array.size and (array.dtype.kind == "b") != (want.kind == "b"):
        got = "true/false" if array.dtype.kind == "b" else "numbers"
        raise InvalidArgument(f"{what}: expected {want.name}, got {got}")
    if array.dtype.kind == "f" and want.kind in "iub":
        raise InvalidArgument(f"{what}: expected {want.name}, got fractional numbers")
    if want.kind in "iu" and array.size:
        info = np.iinfo(want)
        if array.min() < info.min or array.max() > info.max:
            raise InvalidArgument(f"{what}: a value is out of range for {want.name}")
    converted = array.astype(want)
    if want.kind == "f" and array.dtype != want:
        overflow = np.isinf(converted) & ~np.isinf(array)
        if overflow.any():
            raise InvalidArgument(f"{what}: a value is out of range for {want.name}")
    return converted


def _overflows(value: Any) -> bool:
    """Whether a JSON value holds a number that was read as an infinity without saying so."""
    if isinstance(value, list):
        return any(_overflows(v) for v in value)
    return isinstance(value, float) and math.isinf(value) and not isinstance(value, _Constant)


def predict_inputs(
    body: dict[str, Any], signature: Signature
) -> tuple[dict[str, np.ndarray], bool]:
    """The inputs of a predict body, and whether it used the row (`instances`) format."""
    if ("instances" in body) == ("inputs" in body):
        raise InvalidArgument(
            "the body needs exactly one of 'instances' (rows) or 'inputs' (columns)"
        )
    specs = signature.inputs
    if "inputs" in body:
        columns = body["inputs"]
        if not _named(columns):
            if len(specs) != 1:
                raise InvalidArgument(f"'inputs' must be an object naming {sorted(specs)}")
            columns = {next(iter(specs)): columns}
        return {k: to_array(v, specs.get(k), f"input {k!r}") for k, v in columns.items()}, False
    rows = body["instances"]
    if not isinstance(rows, list):
        raise InvalidArgument("'instances' must be a list of rows")
    if not rows:
        raise InvalidArgument("'instances' is empty")
    if all(_named(r) for r in rows):
        names = set(rows[0])
        if any(set(r) != names for r in rows):
            raise InvalidArgument("every instance must name the same inputs")
        columns = {k: [r[k] for r in rows] for k in names}
    elif len(specs) == 1:
        columns = {next(iter(specs)): rows}
    else:
        raise InvalidArgument(
            f"this signature takes {sorted(specs)}: each instance must be an object"
        )
    return {k: to_array(v, specs.get(k), f"input {k!r}") for k, v in columns.items()}, True


def _named(value: Any) -> bool:
    """An object of input names, as opposed to a value (which is an object only as b64)."""
    return isinstance(value, dict) and "b64" not in value


def _plain(array: np.ndarray) -> Any:
    if array.dtype == object or array.dtype.kind == "S":
        return _strings(array)
    return array.tolist()


def _strings(array: np.ndarray) -> Any:
    if array.ndim == 0:
        value = array.item()
        if isinstance(value, bytes):
            try:
                return value.decode()
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(value).decode()}
        return value
    return [_strings(a) for a in array]


def predict_response(outputs: dict[str, np.ndarray], rows: bool) -> dict[str, Any]:
    """Row format when asked and every output has a batch dimension; columns otherwise."""
    if rows:
        counts = {a.shape[0] if a.ndim else None for a in outputs.values()}
        if len(counts) == 1 and None not in counts:
            (count,) = counts
            if len(outputs) == 1:
                return {"predictions": _plain(next(iter(outputs.values())))}
            columns = {k: _plain(v) for k, v in outputs.items()}
            return {"predictions": [{k: columns[k][i] for k in outputs} for i in range(count)]}
        key = "predictions"
    else:
        key = "outputs"
    if len(outputs) == 1:
        return {key: _plain(next(iter(outputs.values())))}
    return {key: {k: _plain(v) for k, v in outputs.items()}}


def _feature(value: Any, what: str) -> feature_pb2.Feature:
    values = value if isinstance(value, list) else [value]
    if all(isinstance(v, bool) for v in values) or not values:
        return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[int(v) for v in values]))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=values))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return feature_pb2.Feature(float_list=feature_pb2.FloatList(value=values))
    if all(isinstance(v, (str, dict)) for v in values):
        return feature_pb2.Feature(
            bytes_list=feature_pb2.BytesList(value=_decode_b64(values, what))
        )
    raise InvalidArgument(f"{what}: a feature must hold numbers or strings, not a mix")


def _example(features: Any, what: str) -> example_pb2.Example:
    if not isinstance(features, dict):
        raise InvalidArgument(f"{what} must be an object of features")
    example = example_pb2.Example()
    for name, value in features.items():
        example.features.feature[name].CopyFrom(_feature(value, f"{what} feature {name!r}"))
    return example


def examples(body: dict[str, Any]) -> list[bytes]:
    """The serialized tf.Examples of a classify or regress body; `context` joins each one."""
    listed = body.get("examples")
    if not isinstance(listed, list) or not listed:
        raise InvalidArgument("the body needs 'examples', a non-empty list of feature objects")
    context = _example(body["context"], "context") if "context" in body else None
    out = []
    for i, features in enumerate(listed):
        example = _example(features, f"example {i}")
        if context is not None:
            merged = example_pb2.Example()
            merged.CopyFrom(context)
            merged.MergeFrom(example)
            example = merged
        out.append(example.SerializeToString())
    return out

"""V2 gRPC messages (package `inference`) to the data plane's values and back."""

from typing import Any

import numpy as np
from google.protobuf import json_format

from service.protos.inference import grpc_service_pb2 as pb
from service.shared.codecs.v2_datatypes import datatype_of, numpy_dtype
from service.shared.codecs.v2_request import (
    SIGNATURE_PARAMETER,
    InferRequest,
    check_names,
    model_query,
)
from service.shared.codecs.v2_tensors import from_raw, from_values, request_shape, to_raw
from service.shared.errors import InvalidArgument

# The InferTensorContents field that carries each datatype's values (FP16 has none: raw only).
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def _parameter(parameters: Any, key: str, what: str) -> str:
    if key not in parameters:
        return ""
    value = parameters[key]
    if value.WhichOneof("parameter_choice") != "string_param":
        raise InvalidArgument(f"{what} parameter {key!r} must be a string_param")
    return value.string_param


def infer_request(request: pb.ModelInferRequest) -> InferRequest:
    """Decode a ModelInferRequest: typed `contents` or `raw_input_contents`, never both."""
    signature = _parameter(request.parameters, SIGNATURE_PARAMETER, "the request's")
    query = model_query(request.model_name, request.model_version, signature)
    if not request.inputs:
        raise InvalidArgument("the request has no inputs")
    check_names([t.name for t in request.inputs], "input")
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidArgument(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs; "
            "send one per input, in the order of 'inputs'"
        )
    inputs: dict[str, np.ndarray] = {}
    for index, tensor in enumerate(request.inputs):
        what = f"input {tensor.name!r}"
        numpy_dtype(tensor.datatype, what)
        shape = request_shape(list(tensor.shape), what)
        has_contents = tensor.HasField("contents") and tensor.contents.ByteSize() > 0
        if raw:
            if has_contents:
                raise InvalidArgument(
                    f"{what}: has typed contents while the request uses raw_input_contents; "
                    "use one or the other"
                )
            inputs[tensor.name] = from_raw(tensor.datatype, shape, raw[index], what)
            continue
        field = CONTENTS_FIELD.get(tensor.datatype)
        if field is None:
            raise InvalidArgument(f"{what}: {tensor.datatype} travels only in raw_input_contents")
        others = [f.name for f, _ in tensor.contents.ListFields() if f.name != field]
        if others:
            raise InvalidArgument(f"{what}: {tensor.datatype} values go in {field}, not {others}")
        inputs[tensor.name] = from_values(
            tensor.datatype, shape, getattr(tensor.contents, field), what
        )
    names = [o.name for o in request.outputs]
    check_names(names, "output")
    return InferRequest(query, request.id, inputs, names)


def infer_response(
    request: InferRequest, model: str, version: int, outputs: dict[str, np.ndarray]
) -> pb.ModelInferResponse:
    """Outputs as raw_output_contents, as Triton answers and tritonclient reads."""
    response = pb.ModelInferResponse(model_name=model, model_version=str(version), id=request.id)
    for name in request.outputs or list(outputs):
        array = outputs[name]
        response.outputs.add(name=name, datatype=datatype_of(array.dtype), shape=array.shape)
        response.raw_output_contents.append(to_raw(array))
    return response


def from_json(message_type: type, payload: dict[str, Any]) -> Any:
    """A response message from the V2 JSON form (extra keys, like `signatures`, dropped)."""
    return json_format.ParseDict(payload, message_type(), ignore_unknown_fields=True)

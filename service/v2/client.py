"""The V2 side of the client CLI and the load generator: `--protocol v2` over gRPC."""

import argparse
import json

import grpc
import numpy as np

from service.protos.inference import grpc_service_pb2 as pb
from service.protos.inference import grpc_service_pb2_grpc
from service.shared.codecs.v2_datatypes import DATATYPES, datatype_of
from service.shared.codecs.v2_request import SIGNATURE_PARAMETER
from service.shared.codecs.v2_tensors import from_raw, to_raw

MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def _version(args: argparse.Namespace) -> str:
    if args.version is not None:
        return str(args.version)
    return args.label or ""


def infer_request(
    model: str,
    inputs: dict[str, np.ndarray],
    version: str = "",
    signature: str = "",
) -> pb.ModelInferRequest:
    """A ModelInferRequest carrying `inputs` in raw_input_contents, as tritonclient sends."""
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    if signature:
        request.parameters[SIGNATURE_PARAMETER].string_param = signature
    for name, array in inputs.items():
        request.inputs.add(name=name, datatype=datatype_of(array.dtype), shape=array.shape)
        request.raw_input_contents.append(to_raw(array))
    return request


def infer_payload(model: str, rows: int, features: int, signature: str) -> bytes:
    """A serialized ModelInferRequest for the load generator: rows of `features` floats."""
    x = np.random.default_rng(0).uniform(size=(rows, features)).astype(np.float32)
    return infer_request(model, {"x": x}, signature=signature).SerializeToString()


def _metadata(channel: grpc.Channel, args: argparse.Namespace) -> pb.ModelMetadataResponse:
    stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
    request = pb.ModelMetadataRequest(name=args.model, version=_version(args))
    return stub.ModelMetadata(request, timeout=args.timeout)


def status(channel: grpc.Channel, args: argparse.Namespace) -> str:
    stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
    request = pb.ModelReadyRequest(name=args.model, version=_version(args))
    ready = stub.ModelReady(request, timeout=args.timeout).ready
    versions = ", ".join(_metadata(channel, args).versions) if ready else "none"
    return f"ready: {'yes' if ready else 'no'}; available versions: {versions}"


def metadata(channel: grpc.Channel, args: argparse.Namespace) -> str:
    response = _metadata(channel, args)
    lines = [f"model {response.name!r} ({response.platform}), versions {list(response.versions)}"]
    lines += [f"  input  {t.name}: {t.datatype} {list(t.shape)}" for t in response.inputs]
    lines += [f"  output {t.name}: {t.datatype} {list(t.shape)}" for t in response.outputs]
    return "\n".join(lines)


def predict(channel: grpc.Channel, args: argparse.Namespace) -> str:
    described = _metadata(channel, args)
    if args.signature:
        raise SystemExit(
            "error: with --protocol v2 the inputs come from serving_default's metadata; "
            "use --protocol tfserving for another signature"
        )
    inputs = {}
    if args.instances is not None:
        first = described.inputs[0]
        inputs[first.name] = np.asarray(json.loads(args.instances), DATATYPES[first.datatype])
    else:
        rng = np.random.default_rng(args.seed)
        for tensor in described.inputs:
            shape = [args.random, *(d if d > 0 else 1 for d in list(tensor.shape)[1:])]
            inputs[tensor.name] = rng.uniform(size=shape).astype(DATATYPES[tensor.datatype])
    stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
    response = stub.ModelInfer(
        infer_request(args.model, inputs, _version(args)), timeout=args.timeout
    )
    outputs = {
        t.name: _plain(from_raw(t.datatype, tuple(t.shape), raw, t.name))
        for t, raw in zip(response.outputs, response.raw_output_contents, strict=True)
    }
    return json.dumps(
        {"model": response.model_name, "version": int(response.model_version), "outputs": outputs}
    )


def _plain(array: np.ndarray) -> object:
    if array.dtype == object:
        return [v.decode(errors="replace") for v in array.ravel()]
    return array.tolist()


COMMANDS = {"status": status, "metadata": metadata, "predict": predict}

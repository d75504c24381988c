"""A small gRPC client for trying a server from a shell.

python -m service.client status MODEL
python -m service.client metadata MODEL
python -m service.client predict MODEL --instances '[[1, 2, 3, 4]]'
python -m service.client predict MODEL --random 3
python -m service.client predict MODEL --random 3 --protocol v2   # the Open Inference Protocol
python -m service.client parameters MODEL [--compare BASE_VERSION]
python -m service.client activations MODEL   # per-layer statistics of sampled requests
python -m service.client drift MODEL         # input drift against the reference
python -m service.client reference VERSION_DIR --samples FILE   # writes the drift reference

Mistakes in the arguments are one line on stderr and exit status 2; errors the server
returns, exit status 1.
"""

import argparse
import json
import sys
from pathlib import Path

import grpc
import numpy as np

from service.insight.reference import REFERENCE_FILE, ReferenceError, read_samples, write_reference
from service.inspection import render_comparison, render_summary
from service.inspection.table import render_activations, render_drift
from service.protos.blockserve.v1 import inspection_pb2, inspection_pb2_grpc
from service.protos.tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from service.shared.codecs.tensors import from_numpy, to_numpy
from service.shared.signature import (
    DEFAULT_SIGNATURE,
    read_meta_graph,
    read_signatures,
)


class UsageError(Exception):
    """A mistake in the command line, said in one line (exit status 2)."""


def model_spec(args: argparse.Namespace) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=args.model, signature_name=getattr(args, "signature", ""))
    if args.version is not None:
        spec.version.value = args.version
    elif args.label:
        spec.version_label = args.label
    return spec


def signatures(channel: grpc.Channel, spec: model_pb2.ModelSpec, timeout: float) -> dict:
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.CopyFrom(spec)
    response = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(
        request, timeout=timeout
    )
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    return read_signatures(signature_map.signature_def)


def status(channel: grpc.Channel, args: argparse.Namespace) -> str:
    request = get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(args))
    response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
        request, timeout=args.timeout
    )
    state = get_model_status_pb2.ModelVersionStatus.State.Name
    lines = [f"{'version':>10}  {'state':<12} error"]
    for v in response.model_version_status:
        error = "" if v.status.error_code == 0 else v.status.error_message
        lines.append(f"{v.version:>10}  {state(v.state):<12} {error}")
    return "\n".join(lines)


def metadata(channel: grpc.Channel, args: argparse.Namespace) -> str:
    lines = []
    for sig in signatures(channel, model_spec(args), args.timeout).values():
        lines.append(f"signature {sig.name!r} ({sig.method_name})")
        lines += [f"  input  {k}: {s.describe()}" for k, s in sig.inputs.items()]
        lines += [f"  output {k}: {s.describe()}" for k, s in sig.outputs.items()]
    return "\n".join(lines)


def predict(channel: grpc.Channel, args: argparse.Namespace) -> str:
    spec = model_spec(args)
    request = predict_pb2.PredictRequest(model_spec=spec)
    rows = None
    if args.instances is not None:
        try:
            rows = json.loads(args.instances)
        except json.JSONDecodeError as e:
            raise UsageError(f"--instances is not JSON: {e}") from None
    known = signatures(channel, spec, args.timeout)
    wanted = args.signature or DEFAULT_SIGNATURE
    if wanted not in known:
        raise UsageError(
            f"model {args.model!r} has no signature {wanted!r}; it has {', '.join(sorted(known))}"
        )
    sig = known[wanted]
    if args.instances is not None:
        (name, input_spec) = next(iter(sig.inputs.items()))
        try:
            array = np.asarray(rows, dtype=input_spec.dtype)
        except (TypeError, ValueError) as e:
            raise UsageError(
                f"--instances does not fit input {name!r} ({input_spec.describe()}): {e}"
            ) from None
        from_numpy(array, request.inputs[name])
    else:
        rng = np.random.default_rng(args.seed)
        for name, input_spec in sig.inputs.items():
            shape = [args.random, *(d if d > 0 else 1 for d in (input_spec.shape or (0,))[1:])]
            from_numpy(rng.uniform(size=shape).astype(input_spec.dtype), request.inputs[name])
    response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
        request, timeout=args.timeout
    )
    outputs = {k: to_numpy(v, k, 1 << 40).tolist() for k, v in sorted(response.outputs.items())}
    served = response.model_spec
    return json.dumps(
        {
            "model": served.name,
            "version": served.version.value,
            "signature": served.signature_name,
            "outputs": outputs,
        }
    )


def parameters(channel: grpc.Channel, args: argparse.Namespace) -> str:
    stub = inspection_pb2_grpc.ModelInspectionServiceStub(channel)
    spec = model_spec(args)
    if args.compare is not None:
        request = inspection_pb2.CompareParametersRequest(
            model_spec=spec, base_version=args.compare
        )
        return render_comparison(stub.CompareParameters(request, timeout=args.timeout))
    request = inspection_pb2.GetParameterSummaryRequest(model_spec=spec)
    return render_summary(stub.GetParameterSummary(request, timeout=args.timeout))


def activations(channel: grpc.Channel, args: argparse.Namespace) -> str:
    stub = inspection_pb2_grpc.ModelInspectionServiceStub(channel)
    request = inspection_pb2.GetActivationSummaryRequest(model_spec=model_spec(args))
    return render_activations(stub.GetActivationSummary(request, timeout=args.timeout))


def drift(channel: grpc.Channel, args: argparse.Namespace) -> str:
    stub = inspection_pb2_grpc.ModelInspectionServiceStub(channel)
    request = inspection_pb2.GetInputDriftRequest(model_spec=model_spec(args))
    return render_drift(stub.GetInputDrift(request, timeout=args.timeout))


def reference(args: argparse.Namespace) -> str:
    """Write a version's drift reference from sample inputs; needs no server."""
    folder = Path(args.model)
    if args.samples is None:
        raise UsageError("reference needs --samples FILE (.npy, .npz or JSON sample inputs)")
    output = Path(args.output) if args.output else folder / REFERENCE_FILE
    name = args.input or _only_input(folder)
    try:
        written = write_reference(output, read_samples(Path(args.samples), name), args.max_rows)
    except ReferenceError as e:
        raise UsageError(str(e)) from None
    shapes = ", ".join(f"{k} {list(v)}" for k, v in written.items())
    return f"wrote {output}: {shapes}"


def _only_input(folder: Path) -> str | None:
    """The one input of the version's serving_default, when the folder holds a SavedModel."""
    try:
        graph = read_meta_graph((folder / "saved_model.pb").read_bytes(), frozenset({"serve"}))
        inputs = read_signatures(graph.signature_def)[DEFAULT_SIGNATURE].inputs
    except (OSError, ValueError, KeyError):
        return None
    return next(iter(inputs)) if len(inputs) == 1 else None


COMMANDS = {
    "status": status,
    "metadata": metadata,
    "predict": predict,
    "parameters": parameters,
    "activations": activations,
    "drift": drift,
}
LOCAL_COMMANDS = {"reference": reference}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=sorted({*COMMANDS, *LOCAL_COMMANDS}))
    parser.add_argument("model", help="model name (reference: the version folder)")
    parser.add_argument(
        "--target", default="localhost:8500", help="gRPC address (default localhost:8500)"
    )
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--version", type=int, help="a version number (default: the latest)")
    choice.add_argument("--label", help="a version label")
    parser.add_argument("--signature", default="", help="signature name (default serving_default)")
    parser.add_argument(
        "--instances", help="predict: JSON rows for the signature's one input (default: --random)"
    )
    parser.add_argument(
        "--random", type=int, default=1, help="predict: this many random rows (default 1)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="predict: seed of the random rows (default 0)"
    )
    parser.add_argument("--compare", type=int, help="parameters: compare with this base version")
    parser.add_argument("--timeout", type=float, default=30, help="seconds (default 30)")
    parser.add_argument("--samples", help="reference: sample inputs, .npy, .npz or JSON")
    parser.add_argument(
        "--input", help="reference: the input a .npy or rows file holds (default: the only one)"
    )
    parser.add_argument(
        "--output", help=f"reference: file to write (default VERSION_DIR/{REFERENCE_FILE})"
    )
    parser.add_argument(
        "--max_rows", type=int, default=10_000, help="reference: rows kept (default 10000)"
    )
    parser.add_argument(
        "--protocol",
        choices=("tfserving", "v2"),
        default="tfserving",
        help="TensorFlow Serving's API (default) or V2's inference.GRPCInferenceService",
    )
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.random < 1:
        raise UsageError(f"--random must be a positive number of rows, got {args.random}")
    if args.command in LOCAL_COMMANDS:
        print(LOCAL_COMMANDS[args.command](args))
        return 0
    commands = COMMANDS
    if args.protocol == "v2":
        from service.v2 import client as v2  # only then: its messages clash with tritonclient's

        commands = v2.COMMANDS
        if args.command not in commands:
            parser.error(f"{args.command} has no V2 form; use --protocol tfserving")
    with grpc.insecure_channel(args.target) as channel:
        try:
            print(commands[args.command](channel, args))
        except grpc.RpcError as e:
            print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

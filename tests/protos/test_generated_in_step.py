"""The generated code in service/protos is what the protos in proto/ generate, and it works."""

import subprocess
import sys
from concurrent import futures
from importlib import resources
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2
from tensorflow_serving.apis import model_pb2

from service.protos import generate
from service.protos.blockserve.v1 import inspection_pb2, inspection_pb2_grpc


def test_generated_code_is_what_the_protos_generate_now(tmp_path: Path) -> None:
    hint = "run `python -m service.protos.generate`"
    package = Path(generate.PACKAGE_PATH)
    fresh = sorted(p.relative_to(tmp_path / package) for p in generate.generate(tmp_path))
    trees = sorted({p.parts[0] for p in fresh})  # blockserve, inference, ...
    assert {generate.GENERATED_TREE, generate.V2_TREE} <= set(trees)
    committed = [
        p.relative_to(generate.ROOT / package)
        for tree in trees
        for p in generate.generated_files(generate.ROOT / package / tree)
    ]
    assert sorted(committed) == fresh, hint
    for path in fresh:
        now = (tmp_path / package / path).read_bytes()
        assert (generate.ROOT / package / path).read_bytes() == now, f"{path} is stale: {hint}"


def test_generated_modules_import_each_other_by_their_package_path() -> None:
    assert (
        inspection_pb2.ParameterSummary.__module__ == "service.protos.blockserve.v1.inspection_pb2"
    )
    service = inspection_pb2.DESCRIPTOR.services_by_name["ModelInspectionService"]
    assert service.full_name == "blockserve.v1.ModelInspectionService"
    assert {m.name: (m.input_type.name, m.output_type.name) for m in service.methods} == {
        "GetParameterSummary": ("GetParameterSummaryRequest", "ParameterSummary"),
        "CompareParameters": ("CompareParametersRequest", "ParameterComparison"),
        "GetActivationSummary": ("GetActivationSummaryRequest", "ActivationSummary"),
        "GetInputDrift": ("GetInputDriftRequest", "InputDrift"),
    }


def test_requests_carry_tensorflow_servings_own_model_spec() -> None:
    field = inspection_pb2.CompareParametersRequest.DESCRIPTOR.fields_by_name["model_spec"]
    assert field.message_type is model_pb2.ModelSpec.DESCRIPTOR
    request = inspection_pb2.CompareParametersRequest(
        model_spec=model_pb2.ModelSpec(name="chimera", version={"value": 2}), base_version=1
    )
    assert request.model_spec.WhichOneof("version_choice") == "version"


def test_the_third_party_model_proto_matches_the_installed_package(tmp_path: Path) -> None:
    out = tmp_path / "model.pb"
    compiled = subprocess.run(
        [
            *(sys.executable, "-m", "grpc_tools.protoc"),
            f"--proto_path={generate.THIRD_PARTY_DIR}",
            f"--proto_path={resources.files('grpc_tools') / '_proto'}",
            f"--descriptor_set_out={out}",
            "tensorflow_serving/apis/model.proto",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compiled.returncode == 0, compiled.stderr
    (ours,) = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    for field in ours.message_type[0].field:
        field.ClearField("json_name")  # protoc fills it in; generated descriptors leave it out
    installed = descriptor_pb2.FileDescriptorProto()
    model_pb2.DESCRIPTOR.CopyToProto(installed)
    assert ours == installed


class _Inspection(inspection_pb2_grpc.ModelInspectionServiceServicer):
    def GetParameterSummary(self, request, context):
        return inspection_pb2.ParameterSummary(model=request.model_spec.name, version=3)


def test_generated_stub_and_servicer_talk_over_grpc() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    inspection_pb2_grpc.add_ModelInspectionServiceServicer_to_server(_Inspection(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = inspection_pb2_grpc.ModelInspectionServiceStub(channel)
            request = inspection_pb2.GetParameterSummaryRequest(
                model_spec=model_pb2.ModelSpec(name="mlp")
            )
            reply = stub.GetParameterSummary(request, timeout=10)
        assert (reply.model, reply.version) == ("mlp", 3)
    finally:
        server.stop(grace=None).wait()


# -- the Open Inference Protocol (V2) -----------------------------------------------------------
# tritonclient's generated grpc_service_pb2 registers the same `inference.*` names, and a
# process can hold only one of the two: here tritonclient's is imported, ours only in a
# subprocess (or compiled to a descriptor set by protoc).


def _compiled_v2_proto(tmp_path: Path) -> descriptor_pb2.FileDescriptorProto:
    out = tmp_path / "grpc_service.pb"
    compiled = subprocess.run(
        [
            *(sys.executable, "-m", "grpc_tools.protoc"),
            f"--proto_path={generate.PROTO_DIR}",
            f"--proto_path={resources.files('grpc_tools') / '_proto'}",
            f"--descriptor_set_out={out}",
            "inference/grpc_service.proto",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compiled.returncode == 0, compiled.stderr
    (ours,) = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    return ours


def _fields(message: descriptor_pb2.DescriptorProto, prefix: str) -> dict[str, tuple]:
    """Every field of a message and its nested messages, by full name: what the wire sees."""
    found = {
        f"{prefix}.{message.name}.{f.name}": (f.number, f.type, f.label, f.type_name)
        for f in message.field
    }
    for nested in message.nested_type:
        found |= _fields(nested, f"{prefix}.{message.name}")
    return found


def test_v2_proto_has_tritonclients_field_numbers_and_types(tmp_path: Path) -> None:
    from tritonclient.grpc import service_pb2

    ours = _compiled_v2_proto(tmp_path)
    assert ours.package == "inference"
    theirs = descriptor_pb2.FileDescriptorProto()
    service_pb2.DESCRIPTOR.CopyToProto(theirs)
    their_messages = {m.name: m for m in theirs.message_type}
    for message in ours.message_type:
        assert message.name in their_messages, message.name
        assert _fields(message, "") == _fields(their_messages[message.name], ""), message.name
    (our_service,) = ours.service
    (their_service,) = [s for s in theirs.service if s.name == our_service.name]
    their_methods = {m.name: m for m in their_service.method}
    for method in our_service.method:
        their = their_methods[method.name]
        assert (method.input_type, method.output_type) == (their.input_type, their.output_type)
    served = {m.name for m in our_service.method}
    assert {"ServerLive", "ServerReady", "ModelReady", "ModelInfer", "RepositoryIndex"} <= served


V2_ROUND_TRIP = """
from concurrent import futures
import grpc
from service.protos.inference import grpc_service_pb2 as pb, grpc_service_pb2_grpc as rpc

assert pb.ModelInferRequest.__module__ == "service.protos.inference.grpc_service_pb2"
assert pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name == (
    "inference.GRPCInferenceService"
)

class Servicer(rpc.GRPCInferenceServiceServicer):
    def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=request.name == "mlp")

server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
rpc.add_GRPCInferenceServiceServicer_to_server(Servicer(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
    stub = rpc.GRPCInferenceServiceStub(channel)
    assert stub.ModelReady(pb.ModelReadyRequest(name="mlp"), timeout=10).ready
    assert not stub.ModelReady(pb.ModelReadyRequest(name="other"), timeout=10).ready
server.stop(grace=None).wait()
print("ok")
"""


def test_v2_generated_stub_and_servicer_talk_over_grpc() -> None:
    result = subprocess.run(
        [sys.executable, "-c", V2_ROUND_TRIP],
        cwd=generate.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

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

TREE = Path(generate.PACKAGE_PATH) / generate.GENERATED_TREE


def test_generated_code_is_what_the_protos_generate_now(tmp_path: Path) -> None:
    hint = "run `python -m service.protos.generate`"
    fresh = sorted(p.relative_to(tmp_path / TREE) for p in generate.generate(tmp_path))
    committed = generate.generated_files(generate.ROOT / TREE)
    assert sorted(p.relative_to(generate.ROOT / TREE) for p in committed) == fresh, hint
    for path in fresh:
        now = (tmp_path / TREE / path).read_bytes()
        assert (generate.ROOT / TREE / path).read_bytes() == now, f"{path} is stale: {hint}"


def test_generated_modules_import_each_other_by_their_package_path() -> None:
    assert (
        inspection_pb2.ParameterSummary.__module__ == "service.protos.blockserve.v1.inspection_pb2"
    )
    service = inspection_pb2.DESCRIPTOR.services_by_name["ModelInspectionService"]
    assert service.full_name == "blockserve.v1.ModelInspectionService"
    assert {m.name: (m.input_type.name, m.output_type.name) for m in service.methods} == {
        "GetParameterSummary": ("GetParameterSummaryRequest", "ParameterSummary"),
        "CompareParameters": ("CompareParametersRequest", "ParameterComparison"),
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

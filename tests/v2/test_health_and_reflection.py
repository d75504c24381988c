"""The V2 gRPC service is registered like TensorFlow Serving's: reflection describes it and
grpc.health.v1 reports it SERVING; REST's V2 health answers beside /healthz and /readyz."""

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.service.conftest import CALL_TIMEOUT, HOST, ServerProcess

SERVICE = "inference.GRPCInferenceService"


def test_reflection_describes_the_v2_service(v2_server: ServerProcess) -> None:
    with grpc.insecure_channel(f"{HOST}:{v2_server.grpc_port}") as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert SERVICE in set(database.get_services())
        # A pool of its own: the default one may hold tritonclient's copy of these messages.
        service = descriptor_pool.DescriptorPool(database).FindServiceByName(SERVICE)
        infer = service.methods_by_name["ModelInfer"]
        assert infer.input_type.full_name == "inference.ModelInferRequest"
        assert "raw_input_contents" in infer.input_type.fields_by_name
        assert {"RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload"} <= set(
            service.methods_by_name
        )


def test_grpc_health_reports_the_v2_service_serving(v2_server: ServerProcess) -> None:
    with grpc.insecure_channel(f"{HOST}:{v2_server.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=30)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_rest_v2_health_and_server_metadata(v2_server: ServerProcess) -> None:
    live = v2_server.rest("GET", "/v2/health/live", timeout=CALL_TIMEOUT)
    assert (live.status, live.json()) == (200, {"live": True})
    ready = v2_server.rest("GET", "/v2/health/ready", timeout=CALL_TIMEOUT)
    assert (ready.status, ready.json()) == (200, {"ready": True})
    metadata = v2_server.rest("GET", "/v2", timeout=CALL_TIMEOUT).json()
    assert metadata["name"] == "blockserve" and metadata["version"]
    missing = v2_server.rest("GET", "/v2/nothing", timeout=CALL_TIMEOUT)
    assert missing.status == 404 and "error" in missing.json()

"""Health (grpc.health.v1 and HTTP) and gRPC server reflection, as probes and tools use them."""

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.service.conftest import CALL_TIMEOUT, SEED_MODELS, ServerProcess

SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service", ["", *SEED_MODELS, "half_plus_two_tf1"])
def test_grpc_health_serving_overall_and_per_model(server: ServerProcess, service: str) -> None:
    response = server.health.Check(
        health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT
    )
    assert response.status == SERVING


@pytest.mark.parametrize(
    "service",
    [
        "tensorflow.serving.PredictionService",
        "tensorflow.serving.ModelService",
        "blockserve.v1.ModelInspectionService",
    ],
)
def test_grpc_health_serving_per_grpc_service(server: ServerProcess, service: str) -> None:
    response = server.health.Check(
        health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT
    )
    assert response.status == SERVING


def test_grpc_health_of_unknown_model_is_not_found(server: ServerProcess) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        server.health.Check(
            health_pb2.HealthCheckRequest(service="no_such_model"), timeout=CALL_TIMEOUT
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_and_describes_prediction_service(server: ServerProcess) -> None:
    database = ProtoReflectionDescriptorDatabase(server.channel)
    services = set(database.get_services())
    assert {
        "tensorflow.serving.PredictionService",
        "tensorflow.serving.ModelService",
        "blockserve.v1.ModelInspectionService",
        "grpc.health.v1.Health",
    } <= services
    pool = descriptor_pool.DescriptorPool(database)
    prediction = pool.FindServiceByName("tensorflow.serving.PredictionService")
    assert {"Predict", "Classify", "Regress", "MultiInference", "GetModelMetadata"} <= set(
        prediction.methods_by_name
    )
    predict = prediction.methods_by_name["Predict"]
    assert predict.input_type.full_name == "tensorflow.serving.PredictRequest"
    assert "inputs" in predict.input_type.fields_by_name


def test_http_liveness_and_readiness_once_loaded(server: ServerProcess) -> None:
    alive = server.rest("GET", "/healthz")
    assert alive.status == 200, alive.body
    ready = server.rest("GET", "/readyz")
    assert ready.status == 200, ready.body
    assert ready.json()["ready"] is True
    assert ready.json()["unready_models"] == []

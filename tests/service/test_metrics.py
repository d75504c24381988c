"""The Prometheus metrics: contract names and labels, counts that add up, errors counted."""

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service import wire
from tests.service.conftest import ServerProcess

CONTRACT = {
    "blockserve_requests_total": {"model", "version", "signature", "method", "protocol", "code"},
    "blockserve_request_duration_seconds_bucket": {"model", "version", "method", "protocol", "le"},
    "blockserve_inference_duration_seconds_bucket": {"model", "version", "signature", "le"},
    "blockserve_queue_duration_seconds_bucket": {"model", "version", "le"},
    "blockserve_batch_size_bucket": {"model", "version", "le"},
    "blockserve_inflight_requests": {"protocol"},
    "blockserve_model_version_available": {"model", "version"},
    "blockserve_model_load_duration_seconds_bucket": {"model", "le"},
    "blockserve_build_info": {"version", "tensorflow_version", "python_version"},
}


def samples(server: ServerProcess) -> list[tuple[str, dict[str, str], float]]:
    response = server.rest("GET", "/metrics")
    assert response.status == 200
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(response.body.decode())
        for s in family.samples
    ]


def value(server: ServerProcess, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for n, ls, v in samples(server) if n == name and labels.items() <= ls.items())


def predict_rows(server: ServerProcess, model: str, rows: int) -> None:
    x = np.random.default_rng(rows).uniform(size=(rows, 20)).astype(np.float32)
    server.prediction.Predict(wire.predict_request(model, {"x": x}), timeout=30)


def test_every_contract_metric_appears_with_its_labels(server: ServerProcess) -> None:
    predict_rows(server, "mlp", 2)
    assert server.rest("POST", "/v1/models/mlp:predict", {"instances": [[0.0] * 20]}).status == 200
    seen: dict[str, set[str]] = {}
    for name, labels, _ in samples(server):
        seen.setdefault(name, set(labels))
    for name, labels in CONTRACT.items():
        assert name in seen, f"{name} is not exported"
        assert seen[name] == labels, f"{name} has labels {seen[name]}, expected {labels}"


def test_histogram_count_equals_requests_sent(server: ServerProcess) -> None:
    labels = {"model": "nest_mlp", "method": "predict", "protocol": "grpc"}
    before = value(server, "blockserve_request_duration_seconds_count", **labels)
    ok_before = value(server, "blockserve_requests_total", code="OK", **labels)
    for rows in range(1, 8):
        predict_rows(server, "nest_mlp", rows)
    assert value(server, "blockserve_request_duration_seconds_count", **labels) - before == 7
    assert value(server, "blockserve_requests_total", code="OK", **labels) - ok_before == 7


def test_errors_are_counted_with_their_code(server: ServerProcess) -> None:
    labels = {"model": "param_net", "protocol": "grpc", "code": "INVALID_ARGUMENT"}
    before = value(server, "blockserve_requests_total", **labels)
    bad = wire.predict_request("param_net", {"x": np.zeros((1, 3), np.float32)})
    for _ in range(3):
        with pytest.raises(grpc.RpcError) as error:
            server.prediction.Predict(bad, timeout=30)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert value(server, "blockserve_requests_total", **labels) - before == 3


def test_unknown_models_share_one_bounded_label(server: ServerProcess) -> None:
    before = value(server, "blockserve_requests_total", model="__unknown__", code="NOT_FOUND")
    for i in range(5):
        with pytest.raises(grpc.RpcError):
            server.prediction.Predict(wire.predict_request(f"nope{i}", {"x": np.zeros((1, 20))}))
        assert server.rest("GET", f"/v1/models/missing{i}").status == 404
    names = {ls.get("model") for n, ls, _ in samples(server) if n == "blockserve_requests_total"}
    assert not any(n.startswith(("nope", "missing")) for n in names)
    after = value(server, "blockserve_requests_total", model="__unknown__", code="NOT_FOUND")
    assert after - before == 10


def test_versions_available_and_load_times_are_exported(server: ServerProcess) -> None:
    assert value(server, "blockserve_model_version_available", model="chimera", version="1") == 1
    assert value(server, "blockserve_model_load_duration_seconds_count", model="chimera") >= 1


def test_monitoring_config_path_serves_the_same_metrics(
    tmp_path,
    exported,
) -> None:
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text(
        'prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }\n'
    )
    flags = [
        f"--model_base_path={exported / 'param_net'}",
        "--model_name=param_net",
        f"--monitoring_config_file={monitoring}",
    ]
    with ServerProcess(flags, tmp_path / "server.log") as server:
        response = server.rest("GET", "/monitoring/prometheus/metrics")
        assert response.status == 200
        assert b"blockserve_model_version_available" in response.body

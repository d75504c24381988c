"""The scale profile live: two replicas behind the shipped nginx.conf, scraped by the shipped
prometheus.yml, both rewritten for loopback. Skipped until `python -m service` exists."""

import re

import pytest

from tests.deploy.conftest import PROMETHEUS_RULES, load_yaml
from tests.deploy.live_stack import LiveStack, http_get, predict_request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CALLS = 40


def predict_requests_total(metrics_text: str) -> float:
    """gRPC predict requests a replica has counted, whatever their outcome."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "blockserve_requests_total"
        and sample.labels.get("method") == "predict"
        and sample.labels.get("protocol") == "grpc"
    )


def test_nginx_spreads_the_calls_of_one_channel_over_both_replicas(live_stack: LiveStack) -> None:
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    before = [predict_requests_total(r.metrics()) for r in live_stack.replicas]
    request = predict_request("mlp", rows=3, features=20)
    with grpc.insecure_channel(live_stack.nginx_grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for _ in range(CALLS):
            response = stub.Predict(request, timeout=30)
            assert response.outputs["y"].tensor_shape.dim[0].size == 3
    after = [predict_requests_total(r.metrics()) for r in live_stack.replicas]
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(served) == CALLS
    assert all(n > 0 for n in served), f"calls per replica: {served}"


def test_nginx_passes_grpc_errors_through(live_stack: LiveStack) -> None:
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    request = predict_request("mlp", rows=1, features=20, input_name="no_such_input")
    with grpc.insecure_channel(live_stack.nginx_grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_nginx_proxies_rest_but_not_a_replicas_metrics(live_stack: LiveStack) -> None:
    assert http_get(f"{live_stack.nginx_rest_url}/readyz")[0] == 200
    assert http_get(f"{live_stack.nginx_rest_url}/healthz")[0] == 200
    assert http_get(f"{live_stack.nginx_rest_url}/metrics")[0] == 404


def test_prometheus_scrapes_every_replica(live_stack: LiveStack) -> None:
    up = live_stack.query('up{job="blockserve"}')
    assert sorted(s["metric"]["compose_service"] for s in up) == ["server", "server-2"]
    assert all(s["value"][1] == "1" for s in up)


def test_alert_rules_evaluate_cleanly_and_stay_quiet(live_stack: LiveStack) -> None:
    groups = live_stack.api("rules", type="alert")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {r["name"] for r in rules} >= {"BlockserveTargetDown", "BlockserveModelUnavailable"}
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"] == []
    firing = [a for a in live_stack.api("alerts")["alerts"] if a["state"] == "firing"]
    assert firing == []


def test_latency_objective_is_a_bucket_boundary_of_the_server(live_stack: LiveStack) -> None:
    # On a boundary, the p99 estimate the alert compares is exact rather than interpolated
    # inside a wide bucket.
    import grpc
    from prometheus_client.parser import text_string_to_metric_families
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    (rule,) = [
        rule
        for group in load_yaml(PROMETHEUS_RULES)["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "BlockserveLatencyP99AboveObjective"
    ]
    objective = float(re.search(r">\s*([\d.]+)\s*$", rule["expr"].strip()).group(1))
    replica = live_stack.replicas[0]
    with grpc.insecure_channel(f"127.0.0.1:{replica.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        stub.Predict(predict_request("mlp", rows=1, features=20), timeout=30)
    bounds = {
        float(sample.labels["le"])
        for family in text_string_to_metric_families(replica.metrics())
        for sample in family.samples
        if sample.name == "blockserve_request_duration_seconds_bucket"
    }
    assert objective in bounds

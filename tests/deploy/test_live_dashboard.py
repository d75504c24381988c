"""The dashboard against a live server: the metrics it reads are the ones the server exports, and
every query runs on a Prometheus that scraped it. Skipped until `python -m service` exists."""

import time

import pytest

from tests.deploy.live_stack import LiveStack, predict_request
from tests.deploy.promql import dashboard_queries, render, unknown_references

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ALL = {"model": ".*", "version": ".*"}


def exported_series(metrics_text: str) -> dict[str, frozenset[str]]:
    """Sample names in a /metrics page, each with every label name it carries."""
    from prometheus_client.parser import text_string_to_metric_families

    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in series.items()}


@pytest.fixture(scope="module")
def traffic(live_stack: LiveStack) -> LiveStack:
    """Some OK and some rejected predictions through nginx, scraped by Prometheus since."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(live_stack.nginx_grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for rows in (1, 2, 5, 8) * 5:
            stub.Predict(predict_request("mlp", rows=rows, features=20), timeout=30)
            stub.Predict(predict_request("param_net", rows=rows, features=4), timeout=30)
        with pytest.raises(grpc.RpcError):
            stub.Predict(predict_request("mlp", 1, 20, input_name="no_such_input"), timeout=30)
    deadline = time.monotonic() + 60
    rate = 'sum(rate(blockserve_requests_total{code="INVALID_ARGUMENT"}[1m]))'
    while not live_stack.query(rate) and time.monotonic() < deadline:
        time.sleep(1)
    return live_stack


def test_dashboard_reads_only_what_the_server_exports(traffic: LiveStack, dashboard: dict) -> None:
    series = {"up": frozenset()}
    for replica in traffic.replicas:
        series |= exported_series(replica.metrics())
    problems = [
        f"{q.where}: {', '.join(problems)}"
        for q in dashboard_queries(dashboard)
        if (problems := unknown_references(q.expr, series))
    ]
    assert not problems, "not exported by the server:\n" + "\n".join(problems)


def test_every_dashboard_query_returns_data(traffic: LiveStack, dashboard: dict) -> None:
    empty = [
        q.where for q in dashboard_queries(dashboard) if not traffic.query(render(q.expr, ALL))
    ]
    assert not empty, "no data:\n" + "\n".join(empty)


def test_every_dashboard_query_runs_for_one_model_and_version(
    traffic: LiveStack, dashboard: dict
) -> None:
    one = {"model": "mlp", "version": "1"}
    for query in dashboard_queries(dashboard):
        traffic.query(render(query.expr, one))  # raises on a query Prometheus rejects

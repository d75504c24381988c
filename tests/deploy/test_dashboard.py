"""The Grafana dashboard: valid for Grafana 11.6, and reading only the server's contract metrics."""

import json
from pathlib import Path

import jsonschema
import yaml

from tests.deploy.conftest import (
    CONTRACT,
    GRAFANA,
    GRAFANA_SCHEMA,
    contract_series,
    load_yaml,
    run,
    system_tool,
)
from tests.deploy.promql import dashboard_queries, metric_names, render, unknown_references


def panels(dashboard: dict) -> list[dict]:
    """Every panel, rows' nested panels included."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def test_dashboard_validates_against_the_grafana_11_6_schema(dashboard: dict) -> None:
    schema = json.loads(GRAFANA_SCHEMA.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(dashboard)
    ]
    assert errors == []


def test_schema_check_catches_a_null_threshold(dashboard: dict) -> None:
    # Grafana's own exports write the base threshold as null; the schema wants a number.
    schema = json.loads(GRAFANA_SCHEMA.read_text())
    broken = json.loads(json.dumps(dashboard))
    stat = next(p for p in panels(broken) if p["type"] == "stat")
    stat["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"] = None
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_model_and_version_are_query_variables_over_blockserve_metrics(dashboard: dict) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"model", "version"} <= set(variables)
    for name in ("model", "version"):
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["query"].startswith("label_values(blockserve_")
        assert variable["query"].rstrip(")").endswith(f", {name}")


def test_every_query_reads_only_contract_metrics_and_labels(dashboard: dict) -> None:
    series = contract_series()
    problems = {q.where: unknown_references(q.expr, series) for q in dashboard_queries(dashboard)}
    assert {where: p for where, p in problems.items() if p} == {}


def test_every_contract_metric_is_on_the_dashboard(dashboard: dict) -> None:
    read = {name for q in dashboard_queries(dashboard) for name in metric_names(q.expr)}
    shown = {m.name for m in CONTRACT if set(m.series()) & read}
    assert shown == {m.name for m in CONTRACT}


def test_every_query_parses_as_promql(dashboard: dict, tmp_path: Path) -> None:
    # promtool checks recording rules with Prometheus' own parser: one rule per query.
    queries = dashboard_queries(dashboard)
    variables = {"model": ".*", "version": ".*"}
    rules = [
        {"record": f"dashboard:query_{i}", "expr": render(q.expr, variables)}
        for i, q in enumerate(queries)
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(system_tool("promtool"), "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(queries)} rules found" in result.stdout


def test_panels_cover_traffic_latency_batching_and_the_models(dashboard: dict) -> None:
    titles = " | ".join(p.get("title", "") for p in panels(dashboard)).lower()
    for topic in (
        "requests/s by model and code",
        "error ratio",
        "p50 / p95 / p99",
        "queue time vs inference time",
        "batch size",
        "in-flight",
        "versions available",
        "load time",
        "parameters by kind",
        "l2 norm",
    ):
        assert topic in titles


def test_panels_have_unique_ids_and_do_not_overlap(dashboard: dict) -> None:
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_query_uses_the_provisioned_prometheus(dashboard: dict) -> None:
    provisioned = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = provisioned["datasources"]
    expected = {"type": source["type"], "uid": source["uid"]}
    refs = [p["datasource"] for p in panels(dashboard) if p["type"] != "row"]
    refs += [t["datasource"] for p in panels(dashboard) for t in p.get("targets", [])]
    refs += [v["datasource"] for v in dashboard["templating"]["list"]]
    assert refs and all(ref == expected for ref in refs)


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "blockserve.yml")
    (entry,) = provider["providers"]
    compose = load_yaml(GRAFANA.parent.parent / "docker-compose.yml")
    mounts = dict(m.split(":")[:2] for m in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == entry["options"]["path"]
    environment = compose["services"]["grafana"]["environment"]
    home = environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{entry['options']['path']}/blockserve.json"

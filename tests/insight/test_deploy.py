"""The live insight dashboard and alert: valid for Grafana 11.6 and promtool, reading only the
insight metrics, the alert unit-tested firing and quiet."""

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "blockserve-insight.json"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "insight.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules" / "insight_test.yml"
SCHEMA = ROOT.parent / "shared" / "schemas" / "grafana-dashboard-11.6.jsonschema.json"
INSIGHT_METRICS = {
    *(
        f"blockserve_activation_{s}"
        for s in ("mean", "std", "min", "max", "zero_fraction", "non_finite_fraction")
    ),
    "blockserve_activation_sampled_requests",
    "blockserve_input_drift",
}


def promtool() -> str:
    path = shutil.which("promtool") or shutil.which("promtool", path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.fail("promtool is not installed; `make system-deps` installs it")
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)


def panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text())["panels"]


def queries() -> list[str]:
    return [t["expr"] for p in panels() for t in p.get("targets", [])]


def test_dashboard_validates_against_the_grafana_11_6_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    dashboard = json.loads(DASHBOARD.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(dashboard)
    ]
    assert errors == []


def test_dashboard_shows_both_activations_and_drift() -> None:
    read = {name for q in queries() for name in INSIGHT_METRICS if name in q}
    assert read == INSIGHT_METRICS
    titles = " | ".join(p["title"].lower() for p in panels())
    assert "input drift" in titles and "dead units" in titles


def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    rules = [
        {
            "record": f"dashboard:query_{i}",
            "expr": q.replace("$model", ".*").replace("$version", ".*").replace("$layer", ".*"),
        }
        for i, q in enumerate(queries())
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "insight", "rules": rules}]}))
    result = run(promtool(), "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_panel_ids_are_unique() -> None:
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    result = run(promtool(), "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(promtool(), "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    rules = RULES.read_text()
    assert "> 0.25" in rules
    (tmp_path / RULES.name).write_text(rules.replace("> 0.25", "> 2.5"))
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    result = run(promtool(), "test", "rules", tmp_path / RULE_TESTS.name)
    assert result.returncode != 0
    assert "BlockserveInputDrift" in result.stdout + result.stderr


def test_prometheus_loads_the_insight_rules() -> None:
    config = yaml.safe_load((RULES.parent.parent / "prometheus.yml").read_text())
    assert "rules/insight.yml" in config["rule_files"]

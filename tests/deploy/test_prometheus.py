"""deploy/prometheus: the config and alert rules pass promtool, and every alert is unit-tested."""

from pathlib import Path

from tests.deploy.conftest import (
    PROMETHEUS_CONF,
    PROMETHEUS_RULE_TESTS,
    PROMETHEUS_RULES,
    contract_series,
    load_yaml,
    run,
    system_tool,
)
from tests.deploy.promql import unknown_references


def test_prometheus_config_passes_promtool() -> None:
    # Also checks the rule files the config names, found relative to it as in the container.
    result = run(system_tool("promtool"), "check", "config", PROMETHEUS_CONF)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout  # blockserve.yml, insight.yml


def test_alert_rules_pass_promtool() -> None:
    result = run(system_tool("promtool"), "check", "rules", PROMETHEUS_RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_pass() -> None:
    result = run(system_tool("promtool"), "test", "rules", PROMETHEUS_RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    rules = PROMETHEUS_RULES.read_text()
    assert "> 0.05" in rules
    (tmp_path / PROMETHEUS_RULES.name).write_text(rules.replace("> 0.05", "> 0.5"))
    (tmp_path / PROMETHEUS_RULE_TESTS.name).write_text(PROMETHEUS_RULE_TESTS.read_text())
    result = run(system_tool("promtool"), "test", "rules", tmp_path / PROMETHEUS_RULE_TESTS.name)
    assert result.returncode != 0
    assert "BlockserveHighErrorRatio" in result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    alerts = {
        rule["alert"]
        for group in load_yaml(PROMETHEUS_RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    cases = [
        case
        for test in load_yaml(PROMETHEUS_RULE_TESTS)["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert alerts >= {
        "BlockserveHighErrorRatio",
        "BlockserveLatencyP99AboveObjective",
        "BlockserveModelUnavailable",
        "BlockserveTargetDown",
    }
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested staying quiet"


def test_alert_rules_use_only_contract_metrics() -> None:
    series = contract_series()
    problems = {
        rule.get("alert") or rule.get("record"): unknown_references(rule["expr"], series)
        for group in load_yaml(PROMETHEUS_RULES)["groups"]
        for rule in group["rules"]
    }
    assert {name: p for name, p in problems.items() if p} == {}

"""docker-compose.yml: valid for Compose v2 in every profile, and wired the way the docs say."""

import re
from pathlib import Path

import pytest

from tests.deploy.conftest import (
    COMPOSE_FILE,
    PROFILE_SETS,
    PROMETHEUS_CONF,
    ROOT,
    compose,
    compose_config,
    flag,
    load_yaml,
    replica_services,
    run,
    venv_tool,
)


def profile_id(profiles: tuple[str, ...]) -> str:
    return "+".join(profiles) or "default"


@pytest.mark.parametrize("profiles", PROFILE_SETS, ids=profile_id)
def test_compose_v2_accepts_the_file(profiles: tuple[str, ...]) -> None:
    result = compose("config", "-q", profiles=profiles)
    assert result.returncode == 0, result.stderr


def test_compose_v2_rejects_a_broken_file(tmp_path: Path) -> None:
    # The check above must be able to fail: Compose itself, not a wrapper that always exits 0.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("condition: service_healthy", "when: up"))
    result = compose("config", "-q", file=broken)
    assert result.returncode != 0


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = run(
        venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("profiles", PROFILE_SETS, ids=profile_id)
def test_every_bind_mounted_path_exists(profiles: tuple[str, ...]) -> None:
    # Docker would create a missing source as an empty folder and the service would start
    # without its config.
    binds = [
        (name, Path(volume["source"]))
        for name, service in compose_config(profiles)["services"].items()
        for volume in service.get("volumes", [])
        if volume["type"] == "bind"
    ]
    assert binds
    missing = [f"{name}: {source}" for name, source in binds if not source.exists()]
    assert not missing, f"bind mounts of missing paths: {missing}"
    assert all(source.is_relative_to(ROOT / "deploy") for _, source in binds)


@pytest.mark.parametrize(
    ("profiles", "services"),
    [
        ((), {"export", "server", "prometheus", "grafana"}),
        (("scale",), {"export", "server", "prometheus", "grafana", "server-2", "nginx"}),
        (("loadgen",), {"export", "server", "prometheus", "grafana", "loadgen"}),
    ],
    ids=profile_id,
)
def test_profiles_add_their_services_to_the_default_stack(
    profiles: tuple[str, ...], services: set[str]
) -> None:
    assert set(compose_config(profiles)["services"]) == services


def test_server_starts_after_the_export_from_the_volume_it_writes() -> None:
    services = compose_config()["services"]
    export, server = services["export"], services["server"]
    assert export["restart"] == "no"
    assert "--skip-existing" in export["command"]
    assert server["depends_on"]["export"]["condition"] == "service_completed_successfully"
    output_dir = export["command"][export["command"].index("--output-dir") + 1]
    (written,) = [v for v in export["volumes"] if v["target"] == output_dir]
    (read,) = [v for v in server["volumes"] if v["source"] == written["source"]]
    assert read["type"] == written["type"] == "volume"
    config = flag(server["command"], "--model_config_file")
    assert config == f"{read['target']}/models.config"  # where the export writes its config


def test_every_replica_drains_before_compose_kills_it() -> None:
    config = compose_config(("scale",))
    for name in replica_services(config):
        service = config["services"][name]
        drain = float(flag(service["command"], "--shutdown_grace_seconds"))
        assert seconds(service["stop_grace_period"]) >= drain + 5, name
        assert "/readyz" in " ".join(service["healthcheck"]["test"]), name


def test_default_stack_publishes_the_documented_ports() -> None:
    published = {
        name: sorted(int(p["published"]) for p in service.get("ports", []))
        for name, service in compose_config(("scale",))["services"].items()
    }
    assert published["server"] == [8500, 8501]
    assert published["prometheus"] == [9090]
    assert published["grafana"] == [3000]
    assert published["nginx"] == [9500, 9501]
    assert published["server-2"] == []


def test_third_party_images_are_pinned() -> None:
    raw = load_yaml(COMPOSE_FILE)["services"]
    images = {name: raw[name]["image"] for name in ("prometheus", "grafana", "nginx")}
    for name, image in images.items():
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*", image), f"{name}: {image}"
    assert images["grafana"].startswith("grafana/grafana:11.6.")
    assert images["prometheus"].startswith("prom/prometheus:")


def test_grafana_lets_anonymous_visitors_view() -> None:
    environment = compose_config()["services"]["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_prometheus_discovers_every_replica_of_every_profile() -> None:
    config = load_yaml(PROMETHEUS_CONF)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "blockserve"]
    names = {name for sd in job["dns_sd_configs"] for name in sd["names"]}
    assert names == set(replica_services(compose_config(("scale",))))
    assert {sd["port"] for sd in job["dns_sd_configs"]} == {8501}


def test_loadgen_targets_the_server_unless_told_otherwise() -> None:
    command = compose_config(("loadgen",))["services"]["loadgen"]["command"]
    assert flag(command, "--target") == "server:8500"
    assert {"--model", "--concurrency", "--duration", "--rows"} <= set(command)


def seconds(duration: str) -> float:
    """A Compose duration such as `40s` or `1m30s` in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)

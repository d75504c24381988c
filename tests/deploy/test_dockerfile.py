"""The Dockerfile: lint-clean, non-root, PID 1 server, and a health check that means ready."""

import http.server
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import (
    DOCKERFILE,
    DOCKERIGNORE,
    K8S,
    ROOT,
    compose_config,
    load_yaml,
    run,
    venv_tool,
)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    found, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1].strip() + " "
            continue
        keyword, _, arguments = (current + line).partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        current = ""
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def only(keyword: str) -> str:
    (arguments,) = [a for k, a in final_stage() if k == keyword]
    return arguments


def test_dockerfile_passes_hadolint() -> None:
    result = run(venv_tool("hadolint"), DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_stage_starts_from_pinned_python_3_11_slim() -> None:
    bases = [a.split()[0] for k, a in instructions() if k == "FROM"]
    assert bases and set(bases) == {"python:3.11-slim-bookworm"}


def test_server_runs_as_the_same_non_root_user_as_in_kubernetes() -> None:
    user = only("USER")
    uid = int(user.split(":")[0])
    assert uid != 0
    assert f"--uid {uid}" in " ".join(a for k, a in final_stage() if k == "RUN")
    pod = load_yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == uid
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_server_is_pid_1_so_sigterm_reaches_it() -> None:
    # Exec form (a JSON array): no shell in between to swallow the signal.
    entrypoint = json.loads(only("ENTRYPOINT"))
    command = json.loads(only("CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["blockserve"] and "blockserve" in scripts
    assert "--model_config_file=/models/models.config" in command


def test_image_exposes_grpc_and_rest() -> None:
    assert only("EXPOSE").split() == ["8500", "8501"]


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    allowed = {
        line[1:].strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    }
    assert "*" in DOCKERIGNORE.read_text().splitlines(), ".dockerignore is not an allow-list"
    sources = [
        source
        for keyword, arguments in instructions()
        if keyword == "COPY" and "--from" not in arguments
        for source in arguments.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert source.rstrip("/") in allowed, f"{source} is left out by .dockerignore"
        assert (ROOT / source).exists(), f"{source} is not in the repository"


def test_dependency_step_lists_the_project_dependencies(tmp_path: Path) -> None:
    (step,) = [a for k, a in instructions() if k == "RUN" and "tomllib" in a]
    code = re.search(r"python -c '([^']*)'", step).group(1)
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert result.stdout.split("\n")[:-1] == expected


class ReadinessServer(http.server.HTTPServer):
    """Answers /readyz with `status`, as the test sets it."""

    status = 200


class Readiness(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(self.server.status if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def readiness() -> Iterator[ReadinessServer]:
    server = ReadinessServer(("127.0.0.1", 0), Readiness)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


def healthcheck(command: list[str], port: int) -> int:
    """Run a health check command against 127.0.0.1:`port` instead of 8501; its exit status."""
    assert command[0] == "python" and ":8501/readyz" in command[-1]
    code = command[-1].replace(":8501/", f":{port}/")
    return subprocess.run([sys.executable, *command[1:-1], code], timeout=30).returncode


def image_healthcheck() -> list[str]:
    arguments = only("HEALTHCHECK")
    return json.loads(arguments[arguments.index("CMD") + 3 :].strip())


@pytest.mark.parametrize("status", [200, 503])
def test_image_healthcheck_passes_only_when_ready(readiness: ReadinessServer, status: int) -> None:
    readiness.status = status
    exit_status = healthcheck(image_healthcheck(), readiness.server_address[1])
    assert (exit_status == 0) == (status == 200)


def test_image_healthcheck_fails_when_nothing_listens(readiness: ReadinessServer) -> None:
    port = readiness.server_address[1]
    readiness.shutdown()
    readiness.server_close()
    assert healthcheck(image_healthcheck(), port) != 0


def test_compose_healthcheck_is_the_image_one() -> None:
    for name in ("server", "server-2"):
        test = compose_config(("scale",))["services"][name]["healthcheck"]["test"]
        assert test == ["CMD", *image_healthcheck()]

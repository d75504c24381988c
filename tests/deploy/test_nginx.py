"""deploy/nginx/nginx.conf: passes `nginx -t` and balances over every replica of `scale`."""

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy import loopback
from tests.deploy.conftest import (
    NGINX_CONF,
    compose_config,
    replica_services,
    run,
    system_tool,
)


def upstream_blocks(text: str) -> dict[str, str]:
    return dict(re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", text))


def nginx_test(config: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    return run(
        system_tool("nginx"),
        *("-t", "-p", workdir, "-c", config, "-e", "stderr", "-g", "pid nginx.pid;"),
    )


def loopback_config(workdir: Path, edit: Callable[[str], str] | None = None) -> Path:
    """The shipped config on loopback ports (`nginx -t` binds none), edited by `edit`."""
    shipped = NGINX_CONF.read_text()
    upstreams = {e: 20000 + i for i, e in enumerate(loopback.nginx_upstreams(shipped))}
    listen = {port: 21000 + i for i, port in enumerate(loopback.nginx_listen_ports(shipped))}
    path = loopback.nginx_config(upstreams, listen, workdir)
    if edit is not None:
        path.write_text(edit(path.read_text()))
    return path


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    result = nginx_test(loopback_config(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_check_rejects_a_broken_config(tmp_path: Path) -> None:
    config = loopback_config(tmp_path, lambda text: text.replace("grpc_pass ", "grpc_passes "))
    result = nginx_test(config, tmp_path)
    assert result.returncode != 0
    assert "grpc_passes" in result.stderr


def test_loopback_copy_changes_only_addresses_and_temp_paths(tmp_path: Path) -> None:
    shipped = NGINX_CONF.read_text().splitlines()
    rewritten = loopback_config(tmp_path).read_text().splitlines()
    changed = [line for line in rewritten if line not in shipped]
    assert changed and all("127.0.0.1:" in line or "_temp_path " in line for line in changed), (
        changed
    )


@pytest.mark.parametrize(
    ("upstream", "port"), [("blockserve_grpc", 8500), ("blockserve_rest", 8501)]
)
def test_nginx_balances_over_every_replica(upstream: str, port: int) -> None:
    block = upstream_blocks(NGINX_CONF.read_text())[upstream]
    servers = set(loopback.nginx_upstreams(block))
    replicas = replica_services(compose_config(("scale",)))
    assert servers == {(name, port) for name in replicas}


def test_grpc_is_served_over_http2_on_the_ports_compose_publishes() -> None:
    text = NGINX_CONF.read_text()
    targets = {int(p["target"]) for p in compose_config(("scale",))["services"]["nginx"]["ports"]}
    assert set(loopback.nginx_listen_ports(text)) == targets
    assert re.search(r"listen\s+8500\s+http2;", text)
    assert "grpc_pass grpc://blockserve_grpc;" in text
    assert "proxy_pass http://blockserve_rest;" in text

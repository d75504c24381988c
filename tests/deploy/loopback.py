"""The project's nginx and Prometheus configs rewritten to run on this machine's loopback.

Only addresses and the paths a process writes change; everything else is the file as shipped, so
what the tests check is what docker-compose.yml runs.
"""

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from tests.deploy.conftest import NGINX_CONF, PROMETHEUS_CONF, PROMETHEUS_RULES

# A compose service name and a container port, as the shipped configs name a replica.
Endpoint = tuple[str, int]

_UPSTREAM_SERVER = re.compile(r"^(\s*server\s+)([\w.-]+):(\d+)", re.MULTILINE)
_LISTEN = re.compile(r"^(\s*listen\s+)(\d+)", re.MULTILINE)
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_upstreams(text: str) -> list[Endpoint]:
    """The (host, port) of every `server` line of the config's upstream blocks."""
    return [(host, int(port)) for _, host, port in _UPSTREAM_SERVER.findall(text)]


def nginx_listen_ports(text: str) -> list[int]:
    return [int(port) for _, port in _LISTEN.findall(text)]


def nginx_config(
    upstreams: Mapping[Endpoint, int], listen: Mapping[int, int], workdir: Path
) -> Path:
    """Write the shipped nginx.conf into `workdir`, on 127.0.0.1, and return its path.

    `upstreams` maps each (compose service, container port) to a local port, `listen` each
    container port nginx listens on to a local port. Temporary files go to `workdir`, so that
    nginx needs no root. Run it with `-p workdir -g "pid nginx.pid;"`.
    """
    text = NGINX_CONF.read_text()

    def upstream(match: re.Match) -> str:
        endpoint = (match.group(2), int(match.group(3)))
        return f"{match.group(1)}127.0.0.1:{upstreams[endpoint]}"

    def listener(match: re.Match) -> str:
        return f"{match.group(1)}127.0.0.1:{listen[int(match.group(2))]}"

    text = _UPSTREAM_SERVER.sub(upstream, text)
    text = _LISTEN.sub(listener, text)
    temp = "".join(f"    {kind}_temp_path {workdir / kind};\n" for kind in _TEMP_PATHS)
    text, count = re.subn(r"^http\s*\{\n", lambda m: m.group(0) + temp, text, flags=re.MULTILINE)
    assert count == 1, "nginx.conf has no `http {` block"
    path = workdir / "nginx.conf"
    path.write_text(text)
    return path


def prometheus_config(
    replicas: Mapping[str, int], own_port: int, workdir: Path, interval: str = "1s"
) -> Path:
    """Write the shipped prometheus.yml into `workdir`, scraping local replicas, and return it.

    `replicas` maps each compose service name the blockserve job discovers to the local REST port
    of the process that stands in for it. The rule files stay the shipped ones.
    """
    config = yaml.safe_load(PROMETHEUS_CONF.read_text())
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["global"].pop("scrape_timeout", None)
    config["rule_files"] = [str(PROMETHEUS_RULES)]
    for job in config["scrape_configs"]:
        if job["job_name"] == "blockserve":
            names = [name for sd in job.pop("dns_sd_configs") for name in sd["names"]]
            assert sorted(names) == sorted(replicas), f"{names} are not {sorted(replicas)}"
            job["static_configs"] = [
                {"targets": [f"127.0.0.1:{replicas[name]}"], "labels": {"compose_service": name}}
                for name in names
            ]
        elif job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [f"127.0.0.1:{own_port}"]}]
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path

"""The compose `scale` stack as local processes: two replicas, nginx and Prometheus on loopback.

Each replica is `python -m service` on free ports, standing in for a compose service that the
shipped nginx.conf and prometheus.yml name (server, server-2); both configs are the shipped ones
rewritten for loopback (tests/deploy/loopback.py).
"""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.deploy import loopback
from tests.deploy.conftest import ROOT, system_tool

REPLICA_NAMES = ("server", "server-2")
GRPC_PORT, REST_PORT = 8500, 8501  # the container ports the shipped configs use
STARTUP_SECONDS = 240.0
DRAIN_SECONDS = 45.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Process:
    """A process the stack started, and the file that holds its output."""

    name: str
    popen: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, name: str, command: Sequence[str | Path], log: Path, cwd: Path) -> "Process":
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [str(part) for part in command],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=cwd,
            )
        return cls(name, popen, log)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text)

    def stop(self, timeout: float = DRAIN_SECONDS) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`; its exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, watched: Sequence[Process]
) -> None:
    """Poll `check` until it holds; fail early, with its output, if a watched process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in watched:
            if process.popen.poll() is not None:
                raise AssertionError(
                    f"{process.name} exited with status {process.popen.returncode} while "
                    f"waiting for {what}\n{process.tail()}"
                )
        try:
            if check():
                return
        except (OSError, ValueError, KeyError):  # not listening yet, or not answering in full
            pass
        time.sleep(0.5)
    tails = "\n".join(process.tail() for process in watched)
    raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}\n{tails}")


@dataclass
class Replica:
    """One `python -m service` standing in for the compose service `name`."""

    name: str
    grpc_port: int
    rest_port: int
    process: Process

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def metrics(self) -> str:
        status, body = http_get(f"{self.rest_url}/metrics")
        assert status == 200, f"{self.name}/metrics answered {status}"
        return body.decode()


@dataclass
class LiveStack:
    """The running processes and where to reach them."""

    replicas: list[Replica]
    nginx: Process
    nginx_ports: dict[int, int]
    prometheus: Process
    prometheus_url: str

    @property
    def processes(self) -> list[Process]:
        return [r.process for r in self.replicas] + [self.nginx, self.prometheus]

    @property
    def nginx_grpc_target(self) -> str:
        return f"127.0.0.1:{self.nginx_ports[GRPC_PORT]}"

    @property
    def nginx_rest_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_ports[REST_PORT]}"

    @classmethod
    def start(cls, model_config: Path, workdir: Path) -> "LiveStack":
        started: list[Process] = []
        try:
            return cls._start(model_config, workdir, started)
        except BaseException:
            for process in reversed(started):
                process.stop(timeout=10)
            raise

    @classmethod
    def _start(cls, model_config: Path, workdir: Path, started: list[Process]) -> "LiveStack":
        replicas = []
        for name in REPLICA_NAMES:
            grpc_port, rest_port = free_port(), free_port()
            command = [
                sys.executable,
                *("-m", "service", "--bind_address", "127.0.0.1"),
                *("--port", str(grpc_port), "--rest_api_port", str(rest_port)),
                *("--model_config_file", str(model_config)),
            ]
            process = Process.start(name, command, workdir / f"{name}.log", ROOT)
            started.append(process)
            replicas.append(Replica(name, grpc_port, rest_port, process))
        for replica in replicas:
            wait_until(
                f"{replica.name} /readyz",
                lambda r=replica: http_get(f"{r.rest_url}/readyz")[0] == 200,
                STARTUP_SECONDS,
                started,
            )

        nginx_ports = {GRPC_PORT: free_port(), REST_PORT: free_port()}
        upstreams = {(r.name, GRPC_PORT): r.grpc_port for r in replicas}
        upstreams |= {(r.name, REST_PORT): r.rest_port for r in replicas}
        nginx_conf = loopback.nginx_config(upstreams, nginx_ports, workdir)
        nginx = Process.start(
            "nginx",
            [
                system_tool("nginx"),
                *("-p", workdir, "-c", nginx_conf, "-e", "stderr"),
                *("-g", "daemon off; pid nginx.pid;"),
            ],
            workdir / "nginx.log",
            workdir,
        )
        started.append(nginx)
        nginx_rest = f"http://127.0.0.1:{nginx_ports[REST_PORT]}"
        wait_until("nginx /readyz", lambda: http_get(f"{nginx_rest}/readyz")[0] == 200, 30, started)

        prometheus_port = free_port()
        prometheus_conf = loopback.prometheus_config(
            {r.name: r.rest_port for r in replicas}, prometheus_port, workdir
        )
        prometheus = Process.start(
            "prometheus",
            [
                system_tool("prometheus"),
                f"--config.file={prometheus_conf}",
                f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            workdir / "prometheus.log",
            workdir,
        )
        started.append(prometheus)
        stack = cls(replicas, nginx, nginx_ports, prometheus, f"http://127.0.0.1:{prometheus_port}")
        wait_until("Prometheus to scrape every replica", stack.replicas_scraped, 60, started)
        return stack

    def replicas_scraped(self) -> bool:
        targets = self.api("targets", state="active")["activeTargets"]
        health = [t["health"] for t in targets if t["labels"]["job"] == "blockserve"]
        return len(health) == len(self.replicas) and set(health) == {"up"}

    def api(self, endpoint: str, **params: str) -> dict:
        """The `data` of a Prometheus HTTP API answer; fails on an error answer."""
        url = f"{self.prometheus_url}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}"
        status, body = http_get(url, timeout=30)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError(f"{endpoint} {params}: {status} {answer.get('error', body[:300])}")
        return answer["data"]

    def query(self, expr: str) -> list[dict]:
        """The result of an instant query now."""
        return self.api("query", query=expr)["result"]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def predict_request(model: str, rows: int, features: int, input_name: str = "x"):
    """A TensorFlow Serving PredictRequest of `rows` rows of `features` floats."""
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow_serving.apis import predict_pb2

    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in (rows, features)]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs[input_name].CopyFrom(
        tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims),
            float_val=[0.25] * (rows * features),
        )
    )
    return request

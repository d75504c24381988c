"""The servers under test, each a child process: ports, readiness, memory, CPU time and log."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.memory import peak_rss_bytes, rss_bytes
from benchmarks.wire import PREDICT

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nothing listens on right now (bound, read and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ServerSpec:
    """A server the benchmark runs: its name in reports and how to start it on given ports."""

    key: str
    title: str
    command: Callable[[int, int], list[str]]
    """(gRPC port, REST port) -> argv."""
    has_rest: bool = False
    """Serves /readyz and blockserve's /metrics on the REST port."""
    answers_fixed: bool = False
    """Answers every request with the same one-row response (the floor)."""


class ServerProcess:
    """A started server; `stop()` ends it (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, spec: ServerSpec, log_path: Path) -> None:
        self.spec = spec
        self.grpc_port = free_port()
        self.rest_port = free_port() if spec.has_rest else 0
        self.log_path = log_path
        self.argv = spec.command(self.grpc_port, self.rest_port)
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._channel = grpc.insecure_channel(f"{HOST}:{self.grpc_port}")
        self._predict = self._channel.unary_unary(PREDICT)

    @property
    def target(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def predict_url(self) -> str:
        return f"http://{HOST}:{self.grpc_port}{PREDICT}"

    def wait_ready(self, request: bytes, timeout: float) -> None:
        """Until /readyz says 200 (where there is one) and a Predict answers OK."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.title} exited with {self.process.returncode} before it was "
                    f"ready; see {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if not self.spec.has_rest or self.http_get("/readyz")[0] == 200:
                    self.predict(request, timeout=5)
                    return
            except (OSError, grpc.RpcError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.spec.title} not ready within {timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def predict(self, request: bytes, timeout: float = 30) -> bytes:
        """One Predict with a serialized request; the serialized response."""
        return self._predict(request, timeout=timeout)

    def http_get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(HOST, self.rest_port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def predict_codes(self) -> dict[str, float]:
        """blockserve's count of gRPC Predict answers by status code, from /metrics."""
        status, body = self.http_get("/metrics")
        if status != 200:
            raise RuntimeError(f"{self.spec.title}: GET /metrics answered {status}")
        codes: dict[str, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "blockserve_requests_total"
                    and labels.get("method") == "predict"
                    and labels.get("protocol") == "grpc"
                ):
                    codes[labels["code"]] = codes.get(labels["code"], 0) + sample.value
        return codes

    def rss_bytes(self) -> int:
        return rss_bytes(self.process.pid)

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes(self.process.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server process, all its threads."""
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, grace: float = 15) -> int:
        self._channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def blockserve(config: Path, batching: bool) -> ServerSpec:
    state = "on" if batching else "off"
    return ServerSpec(
        key=f"blockserve_batching_{state}",
        title=f"blockserve, batching {state}",
        command=lambda grpc_port, rest_port: python_module(
            "service",
            f"--port={grpc_port}",
            f"--rest_api_port={rest_port}",
            f"--bind_address={HOST}",
            f"--model_config_file={config}",
            f"--enable_batching={'true' if batching else 'false'}",
        ),
        has_rest=True,
    )


def naive(model_dir: Path) -> ServerSpec:
    return ServerSpec(
        key="naive",
        title="naive server",
        command=lambda grpc_port, _: python_module(
            "benchmarks.naive_server", f"--port={grpc_port}", f"--model_dir={model_dir}"
        ),
    )


def floor(mode: str) -> ServerSpec:
    return ServerSpec(
        key=f"floor_{mode}",
        title=f"floor, {mode}",
        command=lambda grpc_port, _: python_module(
            "benchmarks.floor_server", f"--port={grpc_port}", f"--mode={mode}"
        ),
        answers_fixed=True,
    )

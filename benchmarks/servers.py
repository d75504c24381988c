"""The servers under test, each a child process: ports, readiness, memory, CPU time and log."""

import contextlib
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
from typing import Any

import grpc
import psutil
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.memory import peak_rss_bytes, rss_bytes
from benchmarks.wire import PREDICT
from benchmarks.wire_v2 import MODEL_INFER

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
WORKER_MODULE = "service.worker.main"
PROCESS_ROLES = ("front", "workers", "lane", "other")
"""What each process of a server's tree is, for its CPU time (see `cpu_seconds_by_process`)."""


def free_port() -> int:
    """A port nothing listens on right now (bound, read and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Ports:
    """The ports a server is started on: gRPC, and HTTP and metrics where it has them."""

    grpc: int
    http: int
    metrics: int


@dataclass(frozen=True)
class ServerSpec:
    """A server the benchmark runs: its name in reports and how to start it on given ports."""

    key: str
    title: str
    command: Callable[[Ports], list[str]]
    family: str
    """'blockserve', 'naive', 'floor', 'mlserver' or 'triton': what the targets compare."""
    protocol: str = "tfs"
    """'tfs' (TensorFlow Serving's Predict) or 'v2' (the V2 protocol's ModelInfer)."""
    has_rest: bool = False
    """Serves /readyz and blockserve's /metrics on the HTTP port."""
    answers_fixed: bool = False
    """Answers every request with the same one-row response (the floor)."""
    workers: int = 0
    """TensorFlow worker processes it is asked to run (blockserve's --num_workers); 0: not
    a flag of this server."""
    env: tuple[tuple[str, str], ...] = ()
    ready_timeout: float = 180.0
    peer: bool = False
    """Another project's server: when it cannot start, the run says so and goes on."""

    @property
    def method(self) -> str:
        return PREDICT if self.protocol == "tfs" else MODEL_INFER

    @property
    def metrics_method(self) -> str:
        """The `method` label blockserve's metrics give that gRPC method."""
        return "predict" if self.protocol == "tfs" else "model_infer"


LAUNCH_ATTEMPTS = 3


class ServerProcess:
    """A started server; `stop()` ends it (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, spec: ServerSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self._descendants: list[psutil.Process] = []
        self._terminated = False
        self._launches = 0
        self._launch()

    def _launch(self) -> None:
        """Start the process on ports free a moment ago."""
        self._launches += 1
        self.ports = Ports(free_port(), free_port(), free_port())
        self.grpc_port = self.ports.grpc
        self.rest_port = self.ports.http
        self.argv = self.spec.command(self.ports)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"} | dict(self.spec.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._channel = grpc.insecure_channel(f"{HOST}:{self.grpc_port}")
        self._predict = self._channel.unary_unary(self.spec.method)

    def _lost_its_port(self) -> bool:
        """Whether it exited because another process took a port between choosing and binding
        (every server here starts at once, and each may bind ports of its own meanwhile)."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            said = log.read().lower()
        # blockserve's words for either port, and everyone's (uvicorn, Triton) for the errno.
        return b"cannot listen" in said or b"address already in use" in said

    @property
    def target(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def predict_url(self) -> str:
        """What h2load posts to: Predict or ModelInfer, by the server's protocol."""
        return f"http://{HOST}:{self.grpc_port}{self.spec.method}"

    def wait_ready(self, request: bytes, timeout: float) -> None:
        """Until /readyz says 200 (where there is one) and a Predict answers OK."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                if self._lost_its_port() and self._launches < LAUNCH_ATTEMPTS:
                    self._channel.close()
                    self._launch()
                    continue
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
        """One Predict (or ModelInfer) with a serialized request; the serialized response."""
        return self._predict(request, timeout=timeout)

    def predict_concurrently(self, requests: list[bytes], timeout: float = 30) -> list[bytes]:
        """All `requests` in flight at once on one channel; their answers, in order."""
        pending = [self._predict.future(request, timeout=timeout) for request in requests]
        return [call.result() for call in pending]

    def http_get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(HOST, self.rest_port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def http_post_json(self, path: str, body: bytes, timeout: float = 30) -> tuple[int, bytes]:
        """One REST call on a connection of its own; the status and the body."""
        connection = http.client.HTTPConnection(HOST, self.rest_port, timeout=timeout)
        try:
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def rest_predict_url(self, model: str) -> str:
        """What h2load posts a REST predict of `model` to."""
        return f"http://{HOST}:{self.rest_port}/v1/models/{model}:predict"

    def metric_counts(self, name: str, by: str, **match: str) -> dict[str, float]:
        """blockserve's /metrics: the samples of `name` whose labels include `match`, summed by
        the value of label `by`."""
        status, body = self.http_get("/metrics")
        if status != 200:
            raise RuntimeError(f"{self.spec.title}: GET /metrics answered {status}")
        counts: dict[str, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                labels = sample.labels
                if sample.name == name and all(labels.get(k) == v for k, v in match.items()):
                    counts[labels[by]] = counts.get(labels[by], 0) + sample.value
        return counts

    def predict_codes(self, protocol: str = "grpc") -> dict[str, float]:
        """blockserve's count of Predict (or ModelInfer) answers by status, from /metrics:
        gRPC's, or with `protocol` 'rest' the REST API's."""
        method = self.spec.metrics_method if protocol == "grpc" else "predict"
        return self.metric_counts(
            "blockserve_requests_total", "code", method=method, protocol=protocol
        )

    def request_paths(self, model: str) -> dict[str, float]:
        """blockserve's requests of `model` by the road of their TensorFlow call (single,
        looped, merged), from /metrics."""
        return self.metric_counts("blockserve_request_paths_total", "path", model=model)

    def worker_calls(self) -> dict[str, float]:
        """blockserve's calls sent to each worker process (by index; the lane is the last)."""
        return self.metric_counts("blockserve_worker_calls_total", "worker")

    def _tree(self) -> list[psutil.Process]:
        """The server's process and all its descendants alive now."""
        main = psutil.Process(self.process.pid)
        return [main, *main.children(recursive=True)]

    def rss_bytes(self) -> int:
        """Resident memory of the server's own process (a multi-process server's front)."""
        return rss_bytes(self.process.pid)

    def memory(self) -> dict[str, Any]:
        """RSS of the process itself, of each descendant, and their sum (shared pages counted
        in every process that maps them)."""
        main, *children = self._tree()
        sizes = []
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                sizes.append(child.memory_info().rss)
        front = main.memory_info().rss
        return {
            "main_bytes": front,
            "children_bytes": sorted(sizes, reverse=True),
            "tree_bytes": front + sum(sizes),
        }

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes(self.process.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server's process tree: every thread of the server
        and of each live descendant (workers, Triton's backend stub, MLServer's workers)."""
        return sum(self.cpu_seconds_by_process().values())

    def cpu_seconds_by_process(self) -> dict[str, float]:
        """The same, by the role of each process: 'front' (the server's own process),
        'workers' (blockserve's TensorFlow workers), 'lane' (its worker for large requests)
        and 'other' (any other descendant: a peer's workers, Triton's stub)."""
        seconds = dict.fromkeys(PROCESS_ROLES, 0.0)
        main, *children = self._tree()
        for process in (main, *children):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                role = "front" if process is main else self._role(process)
                times = process.cpu_times()
                seconds[role] += times.user + times.system
        return seconds

    def _role(self, child: psutil.Process) -> str:
        """A child's role, from its command line: blockserve starts each worker as
        `-m service.worker.main ... --index I`, the lane after the `--num_workers` others."""
        argv = child.cmdline()
        if WORKER_MODULE not in argv or "--index" not in argv:
            return "other"
        index = int(argv[argv.index("--index") + 1])
        return "lane" if index >= max(1, self.spec.workers) else "workers"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def terminate(self) -> None:
        """Ask the server to stop (SIGTERM, once); `stop` waits for it."""
        if self._terminated:
            return
        self._terminated = True
        self._channel.close()
        if self.process.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                self._descendants = psutil.Process(self.process.pid).children(recursive=True)
            self.process.send_signal(signal.SIGTERM)

    def stop(self, grace: float = 15) -> int:
        """SIGTERM, then SIGKILL after `grace`; descendants still alive then are killed too,
        each by its pid (they are this server's own children: workers, stubs, trackers)."""
        self.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _, alive = psutil.wait_procs(self._descendants, timeout=5)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        return self.process.returncode


def stop_all(running: list[ServerProcess]) -> None:
    """Stop every server, all asked at once: some take seconds to drain."""
    for server in running:
        server.terminate()
    for server in running:
        server.stop()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def blockserve(
    config: Path,
    key: str,
    title: str,
    batching: bool = False,
    workers: int = 0,
    protocol: str = "tfs",
    exact_batching: bool = False,
    sampling: bool = True,
) -> ServerSpec:
    """blockserve serving every seed model; `batching` adds --enable_batching=true,
    `workers` --num_workers (0: the server's default, which is one worker) and
    `exact_batching` --enable_exact_batching=true; `sampling` False turns live insight's
    sampling off (--activation_sample_rate=0). `protocol` says which gRPC API the
    benchmark drives: TensorFlow Serving's Predict or V2's ModelInfer."""
    flags = ["--enable_batching=true"] if batching else []
    if exact_batching:
        flags.append("--enable_exact_batching=true")
    if workers:
        flags.append(f"--num_workers={workers}")
    if not sampling:
        flags.append("--activation_sample_rate=0")
    return ServerSpec(
        key=key,
        title=title,
        command=lambda ports: python_module(
            "service",
            f"--port={ports.grpc}",
            f"--rest_api_port={ports.http}",
            f"--bind_address={HOST}",
            f"--model_config_file={config}",
            *flags,
        ),
        family="blockserve",
        protocol=protocol,
        has_rest=True,
        workers=workers or 1,
    )


def naive(model_dir: Path) -> ServerSpec:
    return ServerSpec(
        key="naive",
        title="naive server",
        command=lambda ports: python_module(
            "benchmarks.naive_server", f"--port={ports.grpc}", f"--model_dir={model_dir}"
        ),
        family="naive",
    )


def floor(mode: str) -> ServerSpec:
    return ServerSpec(
        key=f"floor_{mode}",
        title=f"floor, {mode}",
        command=lambda ports: python_module(
            "benchmarks.floor_server", f"--port={ports.grpc}", f"--mode={mode}"
        ),
        family="floor",
        answers_fixed=True,
    )

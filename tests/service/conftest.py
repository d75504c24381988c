"""Fixtures for the server's tests: a real `python -m service` process on ephemeral ports."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import text_format
from grpc_health.v1 import health_pb2_grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
# Seconds each gRPC or REST call in the tests may take before the test gives up on it.
CALL_TIMEOUT = 30.0
LOG_TAIL_CHARS = 6000
PORT_ATTEMPTS = 3


def free_port() -> int:
    """A port nothing listens on right now (bound, read and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def run_service(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m service ARGS` run to its end, as a user would from a shell."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class RestResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ServerProcess:
    """One `python -m service` process: its ports, gRPC stubs, REST calls and log.

    The ports are picked here; `flags` are everything else. The process's stdout and stderr go to
    `log_path`, which `log_tail()` reads back for failure messages.
    """

    def __init__(self, flags: Sequence[str], log_path: Path, grace_seconds: float = 10) -> None:
        self.flags = list(flags)
        self.grace_seconds = grace_seconds
        self.log_path = log_path
        self.grpc_port = free_port()
        self.rest_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "service",
            f"--port={self.grpc_port}",
            f"--rest_api_port={self.rest_port}",
            f"--bind_address={HOST}",
            f"--shutdown_grace_seconds={self.grace_seconds}",
            # A broken version is reported at once, not after tensorflow_model_server's five
            # retries a minute apart; a test of retries gives its own value after this one.
            "--max_num_load_retries=0",
            *self.flags,
        ]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> "ServerProcess":
        """Start the process and wait until GET /readyz answers 200.

        A port taken between choosing it and binding it (other processes on the machine pick
        ports too) means new ports and another try.
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            if self._started(timeout):
                break
            log = self.log_path.read_text(errors="replace")[offset:]
            if "cannot listen" not in log or attempt == PORT_ATTEMPTS:
                code = self.process.returncode if self.process else None
                raise AssertionError(
                    f"the server exited with {code} before it was ready:\n{self.log_tail()}"
                )
            self.grpc_port, self.rest_port = free_port(), free_port()
        self.channel = grpc.insecure_channel(
            f"{HOST}:{self.grpc_port}",
            options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
        )
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        return self

    def _started(self, timeout: float) -> bool:
        """True once ready; False if the process exited first; fails if neither within timeout."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            try:
                if self.rest("GET", "/readyz", timeout=2).status == 200:
                    return True
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"not ready within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)
        return False

    def terminate(self) -> None:
        """Send SIGTERM, as an orchestrator would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> int:
        """The exit code, once the process has ended (killed if it outlives `timeout`)."""
        assert self.process is not None
        try:
            return self.process.wait(self.grace_seconds + 30 if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the server did not exit within {timeout}s of SIGTERM:\n{self.log_tail()}"
            ) from None

    def stop(self) -> None:
        """SIGTERM, then check that the server exited 0."""
        if self.channel is not None:
            self.channel.close()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.terminate()
        code = self.wait()
        assert code == 0, f"the server exited with {code}:\n{self.log_tail()}"

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # -- REST ---------------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        return f"http://{HOST}:{self.rest_port}"

    def rest(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> RestResponse:
        """One HTTP request; a dict body is sent as JSON. Any status comes back, none raises."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        connection = http.client.HTTPConnection(HOST, self.rest_port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return RestResponse(response.status, response.read())
        finally:
            connection.close()


def write_model_config(
    path: Path, models: dict[str, Path], labels: dict[str, dict[str, int]] | None = None
) -> Path:
    """A ModelServerConfig text file serving `models` (name -> base path), written atomically.

    Atomic because a server polling the file must never read half of it.
    """
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in models.items():
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path, entry.model_platform = name, str(base_path), "tensorflow"
        for label, version in (labels or {}).get(name, {}).items():
            entry.version_labels[label] = version
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text_format.MessageToString(config))
    os.replace(staging, path)
    return path


def copy_version(source: Path, base_path: Path, version: int) -> Path:
    """Copy a SavedModel version folder in as `base_path/version`, appearing all at once.

    It is copied under a hidden name first, then renamed: a poller never sees half a version.
    """
    base_path.mkdir(parents=True, exist_ok=True)
    staging = base_path / f".incoming-{version}"
    shutil.copytree(source, staging)
    target = base_path / str(version)
    os.rename(staging, target)
    return target


@pytest.fixture(scope="session")
def tfserving_models(
    tmp_path_factory: pytest.TempPathFactory, tfserving_testdata: Path
) -> dict[str, Path]:
    """TensorFlow Serving's half_plus_two models (TF1 and TF2) copied into base paths of our own."""
    root = tmp_path_factory.mktemp("tfserving")
    models = {
        "half_plus_two_tf1": tfserving_testdata / "saved_model_half_plus_two_cpu",
        "half_plus_two_tf2": tfserving_testdata / "saved_model_half_plus_two_tf2_cpu",
    }
    for name, source in models.items():
        shutil.copytree(source, root / name)
    return {name: root / name for name in models}


SEED_MODELS = (
    "mlp",
    "mlp_subclassed",
    "my_sequential",
    "fixed_hidden_mlp",
    "nest_mlp",
    "chimera",
    "param_net",
)
# The shared server refuses requests above this; the bad-request tests send one over it.
MAX_REQUEST_BYTES = 1 << 20
VERSION_LABEL = "stable"


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, exported: Path, tfserving_models: dict[str, Path]
) -> Iterator[ServerProcess]:
    """One server for the tests that change nothing: every seed model and both half_plus_two.

    The half_plus_two models carry the version label `stable` for their version 123.
    """
    root = tmp_path_factory.mktemp("server")
    models = {name: exported / name for name in SEED_MODELS} | tfserving_models
    labels = {name: {VERSION_LABEL: 123} for name in tfserving_models}
    config = write_model_config(root / "models.config", models, labels)
    flags = [f"--model_config_file={config}", f"--max_request_bytes={MAX_REQUEST_BYTES}"]
    with ServerProcess(flags, root / "server.log") as process:
        yield process


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """On failure, show the log of every server the test used."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name, value in funcargs.items():
            if isinstance(value, ServerProcess):
                report.sections.append((f"server log ({name})", value.log_tail()))
    return report

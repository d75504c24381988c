"""Fixtures for the reliability suite: misbehaving SavedModels, a server for the bad-input corpus,
and small probes of a running server (its metrics, its memory, its latency).
"""

import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.savedmodels import write_tiny_models
from tests.service.conftest import CALL_TIMEOUT, ServerProcess, copy_version, write_model_config
from tests.service.wire import predict_request

# The corpus server's limits: the bad inputs and the fuzzer run against these.
MAX_REQUEST_BYTES = 1 << 20
MAX_ROWS = 1000
GOOD_ROWS = np.linspace(-1, 1, 2 * 20, dtype=np.float32).reshape(2, 20)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`sleepy`, `sleepy_batched` and `lookup` (see savedmodels.py), each at version 1."""
    return write_tiny_models(tmp_path_factory.mktemp("tiny"))


def seed_copy(exported: Path, name: str, root: Path) -> Path:
    """A base path of our own holding version 1 of an exported seed model."""
    base_path = root / name
    copy_version(exported / name / "1", base_path, 1)
    return base_path


@pytest.fixture(scope="package")
def corpus_server(
    tmp_path_factory: pytest.TempPathFactory, exported: Path, tiny_models: dict[str, Path]
) -> Iterator[ServerProcess]:
    """The server the bad inputs and the fuzzer are thrown at: mlp (label `stable` is version 1),
    fixed_hidden_mlp and chimera (their loops never end on NaN) and lookup (int32 input)."""
    root = tmp_path_factory.mktemp("corpus")
    models = {
        "mlp": exported / "mlp",
        "fixed_hidden_mlp": exported / "fixed_hidden_mlp",
        "chimera": exported / "chimera",
        "lookup": tiny_models["lookup"],
    }
    config = write_model_config(root / "models.config", models, {"mlp": {"stable": 1}})
    flags = [
        f"--model_config_file={config}",
        f"--max_request_bytes={MAX_REQUEST_BYTES}",
        f"--max_rows_per_request={MAX_ROWS}",
    ]
    with ServerProcess(flags, root / "server.log") as server:
        yield server


@dataclass(frozen=True)
class Latency:
    """Median seconds of a good small Predict, by protocol."""

    grpc: float
    rest: float


def good_latency(server: ServerProcess, calls: int = 40) -> Latency:
    """The median time of `calls` good mlp Predicts over each protocol, after a few to warm up."""
    request = predict_request("mlp", {"x": GOOD_ROWS})
    body = {"instances": GOOD_ROWS.tolist()}
    grpc_times, rest_times = [], []
    for i in range(calls + 5):
        started = time.perf_counter()
        server.prediction.Predict(request, timeout=CALL_TIMEOUT)
        middle = time.perf_counter()
        assert server.rest("POST", "/v1/models/mlp:predict", body).status == 200
        if i >= 5:
            grpc_times.append(middle - started)
            rest_times.append(time.perf_counter() - middle)
    return Latency(statistics.median(grpc_times), statistics.median(rest_times))


@pytest.fixture(scope="package")
def corpus_baseline(corpus_server: ServerProcess) -> Latency:
    """Good-request latency before any bad input arrives."""
    return good_latency(corpus_server)


def metric(server: ServerProcess, name: str, **labels: str) -> float:
    """The sum of the samples of metric `name` whose labels include `labels`."""
    text = server.rest("GET", "/metrics").body.decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def rss_bytes(server: ServerProcess) -> int:
    """The server process's resident memory now."""
    assert server.process is not None
    return psutil.Process(server.process.pid).memory_info().rss


def status_line(connection: socket.socket) -> str:
    """The first line of the HTTP response on a raw connection."""
    return connection.recv(4096).split(b"\r\n", 1)[0].decode()


def mib(count: float) -> str:
    return f"{count / (1 << 20):.1f} MiB"

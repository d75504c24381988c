"""Fixtures for the V2 protocol's tests: one real server serving every kind of model, real
tritonclient clients for both protocols, and the SavedModels' own answers to compare with.

tritonclient's generated `grpc_service.proto` and blockserve's `service/protos/inference` define
the same `inference.*` messages, which one process cannot register twice: the tests use
tritonclient's, and only the server process (or a subprocess) imports blockserve's.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from tests.reliability.conftest import metric
from tests.reliability.savedmodels import write_tiny_models
from tests.service.conftest import (
    HOST,
    SEED_MODELS,
    ServerProcess,
    pytest_runtest_makereport,  # noqa: F401  (shows the server's log on failure)
    tfserving_models,  # noqa: F401  (fixture)
    write_model_config,
)
from tests.v2.savedmodels import write_typed_model

MAX_REQUEST_BYTES = 1 << 20
MAX_ROWS = 1000
LABEL = "stable"
HALF_PLUS_TWO = ("half_plus_two_tf1", "half_plus_two_tf2")


@pytest.fixture(scope="session")
def typed_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_typed_model(tmp_path_factory.mktemp("typed") / "typed")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`sleepy` (y = 2x after max(x) seconds) and friends, from the reliability suite."""
    return write_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def model_paths(
    exported: Path,
    tfserving_models: dict[str, Path],  # noqa: F811
    typed_model: Path,
    tiny_models: dict[str, Path],
) -> dict[str, Path]:
    """Base paths of every model the V2 server serves, by name."""
    return (
        {name: exported / name for name in SEED_MODELS}
        | tfserving_models
        | {"typed": typed_model, "sleepy": tiny_models["sleepy"]}
    )


@pytest.fixture(scope="session")
def v2_server(
    tmp_path_factory: pytest.TempPathFactory, model_paths: dict[str, Path]
) -> Iterator[ServerProcess]:
    """One server for the tests that change nothing. half_plus_two's version 123 has the
    label `stable`."""
    root = tmp_path_factory.mktemp("v2-server")
    labels = {name: {LABEL: 123} for name in HALF_PLUS_TWO}
    config = write_model_config(root / "models.config", model_paths, labels)
    flags = [
        f"--model_config_file={config}",
        f"--max_request_bytes={MAX_REQUEST_BYTES}",
        f"--max_rows_per_request={MAX_ROWS}",
    ]
    with ServerProcess(flags, root / "server.log") as process:
        yield process


@pytest.fixture
def http_client(v2_server: ServerProcess) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(f"{HOST}:{v2_server.rest_port}")
    yield client
    client.close()


@pytest.fixture
def grpc_client(v2_server: ServerProcess) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(f"{HOST}:{v2_server.grpc_port}")
    yield client
    client.close()


class SavedModelAnswers:
    """The SavedModels' own answers, computed in this process: one call per request."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = paths
        self._loaded: dict[str, object] = {}

    def __call__(
        self, model: str, inputs: dict[str, np.ndarray], signature: str = "serving_default"
    ) -> dict[str, np.ndarray]:
        if model not in self._loaded:
            (version,) = [p for p in self._paths[model].iterdir() if p.name.isdigit()]
            self._loaded[model] = tf.saved_model.load(str(version))
        function = self._loaded[model].signatures[signature]  # type: ignore[attr-defined]
        result = function(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in result.items()}


@pytest.fixture(scope="session")
def saved_model_answers(model_paths: dict[str, Path]) -> SavedModelAnswers:
    return SavedModelAnswers(model_paths)


def wait_for_inflight(server: ServerProcess, count: int, timeout: float = 30) -> None:
    """Until `count` requests are inside the server (its in-flight gauge says so)."""
    deadline = time.monotonic() + timeout
    while metric(server, "blockserve_inflight_requests") < count:
        assert time.monotonic() < deadline, "the requests never all reached the server"
        time.sleep(0.02)

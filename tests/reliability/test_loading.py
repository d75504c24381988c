"""Loading never costs serving: a broken version is reported at once and retried without
blocking other loads, a slow load holds up no other model, and a version whose warm-up kills
the TensorFlow worker is quarantined rather than retried into a crash loop.

One server for the module, polling its model folders every 0.2 s, retrying a failed load 3 times
4 s apart, on 2 load threads. The SavedModels are written by the tests; each test has models of
its own, and they run in file order (the last one kills a worker).
"""

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, prediction_log_pb2

from tests.reliability.conftest import metric
from tests.reliability.savedmodels import ABORT_ABOVE, Aborting, Sleepy, save
from tests.service.conftest import CALL_TIMEOUT, ServerProcess, copy_version, write_model_config
from tests.service.wire import predict_request, status_request

pytestmark = pytest.mark.slow

State = get_model_status_pb2.ModelVersionStatus.State
POLL_SECONDS = 0.2
RETRY_SECONDS = 4.0
RETRIES = 3
WARMUP = Path("assets.extra") / "tf_serving_warmup_requests"
SLOW_WARMUP_SECONDS = 6.0
WORKERS = 2
LOAD_SECONDS = 20.0
"""Ample time for a tiny SavedModel to load on a shared two-core machine."""


def write_warmup(version_dir: Path, x: float) -> None:
    """One recorded Predict of `x`, replayed by the server before the version serves."""
    entry = prediction_log_pb2.PredictionLog()
    entry.predict_log.request.inputs["x"].CopyFrom(
        tf.make_tensor_proto(np.array([[x]], np.float32))
    )
    (version_dir / WARMUP).parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(version_dir / WARMUP)) as writer:
        writer.write(entry.SerializeToString())


@dataclass
class Repository:
    server: ServerProcess
    root: Path
    config: Path
    seeds: dict[str, Path]
    """Version folders to copy in: `good` (y = 2x), `slow` (a 6 s warm-up), `aborting`."""

    def base_path(self, name: str) -> Path:
        return self.root / name

    def place(self, seed: str, name: str, version: int) -> Path:
        return copy_version(self.seeds[seed], self.base_path(name), version)


MODELS = ("broken", "bystander", "slow", "quick", "aborting")


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repository]:
    root = tmp_path_factory.mktemp("loading")
    seeds = {
        "good": save(Aborting(), root / "seeds" / "good"),
        "slow": save(Sleepy(), root / "seeds" / "slow", {"rows_coupled": True}),
        "aborting": save(Aborting(), root / "seeds" / "aborting"),
    }
    write_warmup(seeds["slow"], SLOW_WARMUP_SECONDS)
    write_warmup(seeds["aborting"], 2 * ABORT_ABOVE)
    models = root / "models"
    for name in MODELS:
        copy_version(seeds["good"], models / name, 1)
    config = write_model_config(root / "models.config", {n: models / n for n in MODELS})
    flags = [
        f"--model_config_file={config}",
        f"--file_system_poll_wait_seconds={POLL_SECONDS}",
        f"--max_num_load_retries={RETRIES}",
        f"--load_retry_interval_micros={int(RETRY_SECONDS * 1e6)}",
        "--num_load_threads=2",
        f"--num_workers={WORKERS}",
    ]
    with ServerProcess(flags, root / "server.log") as server:
        yield Repository(server, models, config, seeds)


def status_of(server: ServerProcess, name: str, version: int):
    response = server.models.GetModelStatus(status_request(name, version), timeout=CALL_TIMEOUT)
    return response.model_version_status[0]


def known(server: ServerProcess, name: str, version: int) -> bool:
    try:
        status_of(server, name, version)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return True


def serves(server: ServerProcess, name: str, version: int) -> bool:
    return known(server, name, version) and status_of(server, name, version).state == (
        State.AVAILABLE
    )


def predict(server: ServerProcess, name: str, x: float = 1.0) -> int:
    """The version that answered a Predict of `x`."""
    request = predict_request(name, {"x": np.array([[x]], np.float32)})
    return server.prediction.Predict(request, timeout=CALL_TIMEOUT).model_spec.version.value


def wait_until(what: str, condition: Callable[[], bool], timeout: float) -> float:
    """Seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_broken_version_says_why_at_once_and_blocks_no_other_load(
    repository: Repository,
) -> None:
    server = repository.server
    base = repository.base_path("broken")
    staging = base / ".incoming-2"
    staging.mkdir()
    (staging / "saved_model.pb").write_bytes(b"this is not a SavedModel")
    staging.rename(base / "2")

    def first_failure_reported() -> bool:
        return known(server, "broken", 2) and status_of(server, "broken", 2).status.error_code != 0

    wait_until("the first failed attempt is reported", first_failure_reported, LOAD_SECONDS)
    status = status_of(server, "broken", 2)
    assert status.state == State.LOADING  # retries go on
    assert f"attempt 1 of {RETRIES + 1} to load {base / '2'} failed" in status.status.error_message
    assert f"next attempt in {RETRY_SECONDS:g} s" in status.status.error_message

    # The same words over REST and in the V2 repository index.
    rest = server.rest("GET", "/v1/models/broken/versions/2").json()
    assert rest["model_version_status"][0]["status"]["error_message"].startswith("attempt ")
    index = server.rest("POST", "/v2/repository/index", {}).json()
    (row,) = [r for r in index if r["name"] == "broken" and r["version"] == "2"]
    assert row["state"] == "LOADING" and row["reason"].startswith("attempt ")
    assert metric(server, "blockserve_model_load_failures_total", model="broken") >= 1

    # While it waits to be retried, a good version of another model loads at once, and the
    # broken model's previous version goes on serving.
    repository.place("good", "bystander", 2)
    took = wait_until(
        "bystander version 2 serves", lambda: serves(server, "bystander", 2), LOAD_SECONDS
    )
    assert took < POLL_SECONDS + LOAD_SECONDS
    assert status_of(server, "broken", 2).state == State.LOADING
    assert _answers(server, "bystander")
    assert predict(server, "broken") == 1

    # Deleted, it is not retried: it ends at the next poll, and no attempt follows.
    shutil.rmtree(base / "2")
    wait_until(
        "the deleted version ends",
        lambda: status_of(server, "broken", 2).state == State.END,
        POLL_SECONDS + 5,
    )
    assert "not retried: the version is no longer aspired" in (
        status_of(server, "broken", 2).status.error_message
    )
    failures = metric(server, "blockserve_model_load_failures_total", model="broken")
    time.sleep(RETRY_SECONDS + 1)
    assert metric(server, "blockserve_model_load_failures_total", model="broken") == failures
    assert predict(server, "broken") == 1


def test_a_slow_load_holds_up_no_other_model(repository: Repository) -> None:
    server = repository.server
    repository.place("slow", "slow", 2)
    wait_until("the slow version is loading", lambda: known(server, "slow", 2), LOAD_SECONDS)
    started = time.monotonic()
    # Serving goes on meanwhile.
    assert predict(server, "quick") == 1
    assert predict(server, "slow") == 1
    assert time.monotonic() - started < 2
    # The repository starts loading a version placed meanwhile at the next poll...
    repository.place("good", "quick", 2)
    wait_until("quick version 2 is loading", lambda: known(server, "quick", 2), POLL_SECONDS + 2)
    assert status_of(server, "slow", 2).state == State.LOADING
    # ...and, with a second load thread, it serves before the slow warm-up is over.
    wait_until("quick version 2 serves", lambda: serves(server, "quick", 2), LOAD_SECONDS)
    assert time.monotonic() - started < SLOW_WARMUP_SECONDS, (
        f"quick version 2 served only after {time.monotonic() - started:.1f}s, behind the slow "
        f"version's {SLOW_WARMUP_SECONDS:g}s warm-up"
    )
    assert status_of(server, "slow", 2).state == State.LOADING
    wait_until(
        "the slow version serves",
        lambda: serves(server, "slow", 2),
        SLOW_WARMUP_SECONDS + LOAD_SECONDS,
    )


def test_a_version_that_kills_the_worker_is_quarantined(repository: Repository) -> None:
    server = repository.server
    # Alone: a worker that dies while other versions load too is no proof against this one.
    wait_until("no load is running", lambda: not _loading(server), 2 * LOAD_SECONDS)
    restarts = metric(server, "blockserve_worker_restarts_total")
    repository.place("aborting", "aborting", 2)

    def ended() -> bool:
        return known(server, "aborting", 2) and status_of(server, "aborting", 2).state == State.END

    wait_until("the aborting version is reported", ended, LOAD_SECONDS + 30)
    status = status_of(server, "aborting", 2)
    assert status.status.error_message.startswith("quarantined: "), status.status.error_message
    assert metric(server, "blockserve_model_versions_quarantined", model="aborting") == 1

    # The worker is back with the versions it held; the previous version serves again.
    wait_until("version 1 serves again", lambda: _answers(server, "aborting"), 60)
    assert predict(server, "aborting") == 1
    assert _answers(server, "bystander")
    # No crash loop: every worker loaded it and died once; well past the retry interval and
    # many polls later, none has died again. (A restart counts once the worker has reloaded
    # every version, the slow one's warm-up included.)
    wait_until(
        "the workers are back",
        lambda: metric(server, "blockserve_worker_restarts_total") >= restarts + 1,
        2 * LOAD_SECONDS,
    )
    time.sleep(2 * RETRY_SECONDS)
    assert server.process is not None and server.process.poll() is None
    # Each worker process, the large-request lane's too, restarted once at most.
    assert metric(server, "blockserve_worker_restarts_total") <= restarts + WORKERS + 1
    assert status_of(server, "aborting", 2).state == State.END
    assert metric(server, "blockserve_model_load_failures_total", model="aborting") == 1

    # New files are tried again: a fixed version 2 serves.
    shutil.rmtree(repository.base_path("aborting") / "2")
    repository.place("good", "aborting", 2)
    wait_until("the fixed version serves", lambda: serves(server, "aborting", 2), LOAD_SECONDS)
    assert metric(server, "blockserve_model_versions_quarantined", model="aborting") == 0

    # The status said what killed the worker.
    assert "was killed by SIGABRT while loading" in status.status.error_message, (
        status.status.error_message
    )


def _answers(server: ServerProcess, name: str) -> bool:
    try:
        predict(server, name)
    except grpc.RpcError:
        return False
    return True


def _loading(server: ServerProcess) -> list[str]:
    index = server.rest("POST", "/v2/repository/index", {}).json()
    return [f"{r['name']} {r['version']}" for r in index if r["state"] == "LOADING"]

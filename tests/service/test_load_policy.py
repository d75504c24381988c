"""The manager's share of tensorflow_model_server's loading flags: retries, load threads."""

import threading
import time
from pathlib import Path

import pytest

from service.protos.tensorflow_serving.apis import get_model_status_pb2
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.repository.manager import LoadPolicy, ModelManager

State = get_model_status_pb2.ModelVersionStatus.State


class FakeVersion:
    def __init__(self, name: str, version: int) -> None:
        self.name, self.version, self.load_seconds = name, version, 0.0

    def close(self) -> None:
        pass


def repository(tmp_path: Path, *models: str) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    for name in models:
        (tmp_path / name / "1").mkdir(parents=True)
        (tmp_path / name / "1" / "saved_model.pb").write_bytes(b"")
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path = name, str(tmp_path / name)
    return config


def test_a_failed_load_is_retried_then_reported(tmp_path: Path) -> None:
    attempts = []

    def load(name: str, version: int, path: Path) -> FakeVersion:
        attempts.append(time.monotonic())
        raise RuntimeError("the disk is flaky")

    manager = ModelManager(load, policy=LoadPolicy(max_retries=2, retry_interval_seconds=0.05))
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    (status,) = manager.status("m", None)
    assert len(attempts) == 3
    assert attempts[2] - attempts[0] >= 0.1
    assert status.state == State.END
    assert status.error_message.endswith("(tried 3 times): the disk is flaky")


def test_a_load_that_succeeds_on_retry_serves(tmp_path: Path) -> None:
    failures = [RuntimeError("once")]

    def load(name: str, version: int, path: Path) -> FakeVersion:
        if failures:
            raise failures.pop()
        return FakeVersion(name, version)

    manager = ModelManager(load, policy=LoadPolicy(max_retries=1))
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    assert [s.state for s in manager.status("m", None)] == [State.AVAILABLE]


def test_stopping_ends_the_wait_between_retries(tmp_path: Path) -> None:
    def load(name: str, version: int, path: Path) -> FakeVersion:
        raise RuntimeError("broken")

    manager = ModelManager(load, policy=LoadPolicy(max_retries=5, retry_interval_seconds=60))
    manager.configure(repository(tmp_path, "m"))
    reconciling = threading.Thread(target=manager.reconcile)
    started = time.monotonic()
    reconciling.start()
    time.sleep(0.2)
    manager.stop_loading()
    reconciling.join(10)
    assert not reconciling.is_alive() and time.monotonic() - started < 10
    assert manager.status("m", None)[0].state == State.END


@pytest.mark.parametrize(("threads", "most_at_once"), [(0, 1), (1, 1), (3, 3)])
def test_load_threads_load_that_many_versions_at_once(
    tmp_path: Path, threads: int, most_at_once: int
) -> None:
    lock = threading.Lock()
    now, most = [0], [0]

    def load(name: str, version: int, path: Path) -> FakeVersion:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.2)
        with lock:
            now[0] -= 1
        return FakeVersion(name, version)

    manager = ModelManager(load, policy=LoadPolicy(load_threads=threads))
    manager.configure(repository(tmp_path, "a", "b", "c"))
    manager.reconcile()
    assert most[0] == most_at_once
    assert manager.unready_models() == []

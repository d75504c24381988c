"""The manager's share of tensorflow_model_server's loading flags: retries, load threads; and
what blockserve adds: failures reported at once, retries that block nothing, quarantine."""

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.front.repository.manager import LoadPolicy, ModelManager
from service.protos.tensorflow_serving.apis import get_model_status_pb2
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.shared.errors import WorkerDied

State = get_model_status_pb2.ModelVersionStatus.State
WAIT = 10.0


class FakeVersion:
    def __init__(self, name: str, version: int) -> None:
        self.name, self.version, self.load_seconds = name, version, 0.0
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Failures:
    """A LoadFailureListener that keeps what it is told."""

    def __init__(self) -> None:
        self.failed: list[tuple[str, int]] = []
        self.quarantined: dict[str, int] = {}

    def load_failed(self, name: str, version: int) -> None:
        self.failed.append((name, version))

    def versions_quarantined(self, name: str, count: int) -> None:
        self.quarantined[name] = count

    def version_available(self, model: FakeVersion) -> None:
        pass

    def version_unavailable(self, name: str, version: int) -> None:
        pass

    def models_configured(self, names: list[str]) -> None:
        pass


def add_version(tmp_path: Path, name: str, version: int, content: bytes = b"") -> Path:
    folder = tmp_path / name / str(version)
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(content)
    return folder


def repository(tmp_path: Path, *models: str) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    for name in models:
        add_version(tmp_path, name, 1)
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path = name, str(tmp_path / name)
    return config


@pytest.fixture
def managers() -> Iterator[Callable[..., ModelManager]]:
    """ModelManagers shut down (their threads stopped) when the test ends."""
    made: list[ModelManager] = []

    def make(*args: object, **kwargs: object) -> ModelManager:
        made.append(ModelManager(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for manager in made:
        manager.shutdown()


def state(manager: ModelManager, name: str, version: int) -> tuple[int, str]:
    (status,) = manager.status(name, version)
    return status.state, status.error_message


def wait_until(what: str, condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_a_failed_load_is_retried_then_reported(tmp_path: Path, managers) -> None:
    attempts = []

    def load(name: str, version: int, path: Path) -> FakeVersion:
        attempts.append(time.monotonic())
        raise RuntimeError("the disk is flaky")

    failures = Failures()
    manager = managers(load, policy=LoadPolicy(max_retries=2, retry_interval_seconds=0.05))
    manager.subscribe(failures)
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    wait_until("the retries end", lambda: state(manager, "m", 1)[0] == State.END)
    (status,) = manager.status("m", None)
    assert len(attempts) == 3
    assert attempts[2] - attempts[0] >= 0.1
    assert status.error_code == "UNKNOWN"
    assert status.error_message.endswith("(tried 3 times): the disk is flaky")
    assert failures.failed == [("m", 1)] * 3


def test_a_failed_attempt_is_reported_at_once_while_retries_wait(tmp_path: Path, managers) -> None:
    def load(name: str, version: int, path: Path) -> FakeVersion:
        raise RuntimeError("not a SavedModel")

    manager = managers(load, policy=LoadPolicy(max_retries=5, retry_interval_seconds=60))
    manager.configure(repository(tmp_path, "m"))
    started = time.monotonic()
    manager.reconcile()  # returns after the first attempt, not after five minutes
    assert time.monotonic() - started < 5
    (status,) = manager.status("m", 1)
    assert status.state == State.LOADING
    assert status.error_code == "UNKNOWN"
    assert status.error_message == (
        f"attempt 1 of 6 to load {tmp_path / 'm' / '1'} failed: not a SavedModel; "
        "next attempt in 60 s"
    )


def test_a_load_that_succeeds_on_retry_serves(tmp_path: Path, managers) -> None:
    failures = [RuntimeError("once")]

    def load(name: str, version: int, path: Path) -> FakeVersion:
        if failures:
            raise failures.pop()
        return FakeVersion(name, version)

    manager = managers(load, policy=LoadPolicy(max_retries=1))
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    wait_until("it serves", lambda: state(manager, "m", 1) == (State.AVAILABLE, ""))


def test_waiting_to_retry_blocks_no_other_load(tmp_path: Path, managers) -> None:
    def load(name: str, version: int, path: Path) -> FakeVersion:
        if name == "broken":
            raise RuntimeError("broken")
        return FakeVersion(name, version)

    # One load thread: the retries of `broken` must not hold it.
    policy = LoadPolicy(load_threads=1, max_retries=5, retry_interval_seconds=60)
    manager = managers(load, policy=policy)
    manager.configure(repository(tmp_path, "broken", "good"))
    manager.reconcile(wait=False)
    wait_until("good serves", lambda: state(manager, "good", 1)[0] == State.AVAILABLE)
    for version in (2, 3, 4):
        add_version(tmp_path, "good", version)
        manager.reconcile(wait=False)
        wait_until(
            f"version {version} serves",
            lambda: state(manager, "good", version)[0] == State.AVAILABLE,  # noqa: B023
        )
    assert state(manager, "good", 3)[0] == State.END
    assert state(manager, "broken", 1)[0] == State.LOADING


def test_stopping_ends_the_wait_between_retries(tmp_path: Path, managers) -> None:
    def load(name: str, version: int, path: Path) -> FakeVersion:
        raise RuntimeError("broken")

    manager = managers(load, policy=LoadPolicy(max_retries=5, retry_interval_seconds=60))
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    assert state(manager, "m", 1)[0] == State.LOADING
    manager.stop_loading()
    status, message = state(manager, "m", 1)
    assert status == State.END
    assert "not retried: the server is stopping: broken" in message


def test_a_deleted_version_is_not_retried(tmp_path: Path, managers) -> None:
    attempts = []

    def load(name: str, version: int, path: Path) -> FakeVersion:
        attempts.append(version)
        if version == 2:
            raise RuntimeError("broken")
        return FakeVersion(name, version)

    manager = managers(load, policy=LoadPolicy(max_retries=5, retry_interval_seconds=0.3))
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    add_version(tmp_path, "m", 2)
    manager.reconcile()
    assert state(manager, "m", 2)[0] == State.LOADING
    shutil.rmtree(tmp_path / "m" / "2")
    time.sleep(1)  # the retry's timer finds the folder gone, with no poll in between
    assert attempts.count(2) == 1
    status, message = state(manager, "m", 2)
    assert status == State.END
    assert "not retried: the version is no longer aspired: broken" in message
    assert state(manager, "m", 1)[0] == State.AVAILABLE


def test_a_newer_version_drops_the_retries_of_a_broken_one(tmp_path: Path, managers) -> None:
    def load(name: str, version: int, path: Path) -> FakeVersion:
        if version == 2:
            raise RuntimeError("broken")
        return FakeVersion(name, version)

    manager = managers(load, policy=LoadPolicy(max_retries=5, retry_interval_seconds=60))
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    add_version(tmp_path, "m", 2)
    manager.reconcile()
    add_version(tmp_path, "m", 3)
    manager.reconcile()
    assert state(manager, "m", 2)[0] == State.END
    assert state(manager, "m", 3)[0] == State.AVAILABLE
    assert state(manager, "m", 1)[0] == State.END


def died() -> WorkerDied:
    return WorkerDied("TensorFlow worker 0 was killed by SIGABRT", "was killed by SIGABRT")


def test_a_version_that_kills_a_worker_is_quarantined(tmp_path: Path, managers) -> None:
    attempts = []

    def load(name: str, version: int, path: Path) -> FakeVersion:
        attempts.append(version)
        if (path / "saved_model.pb").read_bytes() == b"aborts":
            raise died()
        return FakeVersion(name, version)

    failures = Failures()
    manager = managers(load, policy=LoadPolicy(max_retries=5, retry_interval_seconds=0.05))
    manager.subscribe(failures)
    config = repository(tmp_path, "m")
    manager.configure(config)
    manager.reconcile()
    pb = add_version(tmp_path, "m", 2, b"aborts") / "saved_model.pb"
    manager.reconcile()
    (status,) = manager.status("m", 2)
    assert status.state == State.END
    assert status.error_code == "ABORTED"
    assert status.error_message == (
        f"quarantined: the TensorFlow worker was killed by SIGABRT while loading "
        f"{tmp_path / 'm' / '2'}; it is not tried again until its files change or the model "
        "config is reloaded"
    )
    assert failures.quarantined == {"m": 1}
    for _ in range(3):
        manager.reconcile()
    time.sleep(0.2)
    assert attempts == [1, 2]  # never again; version 1 serves meanwhile
    assert state(manager, "m", 1)[0] == State.AVAILABLE

    manager.configure(config)  # a config reload tries it again
    manager.reconcile()
    assert attempts == [1, 2, 2]
    pb.write_bytes(b"fixed")  # as do new files
    os.utime(pb, ns=(1, 1))
    manager.reconcile()
    assert state(manager, "m", 2)[0] == State.AVAILABLE
    assert failures.quarantined == {"m": 0}
    assert failures.failed == [("m", 2)] * 2


def test_a_worker_death_during_several_loads_is_retried_alone(tmp_path: Path, managers) -> None:
    # Which of the loads killed the worker is unknown: each is tried again with no other load
    # beside it, and only the one that kills a worker then is quarantined.
    together = threading.Barrier(2)
    lock = threading.Lock()
    attempts: dict[str, int] = {}
    running, most_later = [0], [0]

    def load(name: str, version: int, path: Path) -> FakeVersion:
        with lock:
            attempts[name] = attempts.get(name, 0) + 1
            first = attempts[name] == 1
            running[0] += 1
            if not first:
                most_later[0] = max(most_later[0], running[0])
        try:
            if first:
                together.wait(WAIT)  # both first attempts run at once, and the worker dies
                raise died()
            time.sleep(0.1)
            if name == "killer":
                raise died()
            return FakeVersion(name, version)
        finally:
            with lock:
                running[0] -= 1

    policy = LoadPolicy(load_threads=2, max_retries=1, retry_interval_seconds=0.05)
    manager = managers(load, policy=policy)
    manager.configure(repository(tmp_path, "innocent", "killer"))
    manager.reconcile(wait=False)
    wait_until("innocent serves", lambda: state(manager, "innocent", 1)[0] == State.AVAILABLE)
    wait_until("killer ends", lambda: state(manager, "killer", 1)[0] == State.END)
    assert state(manager, "killer", 1)[1].startswith("quarantined: ")
    assert attempts == {"innocent": 2, "killer": 2}
    assert most_later[0] == 1


def test_a_worker_death_during_a_load_and_a_request_is_not_quarantined(
    tmp_path: Path, managers
) -> None:
    # The worker's board showed a request running when it died: the request may be the killer,
    # so the lone load is retried, not quarantined.
    attempts = []

    def load(name: str, version: int, path: Path) -> FakeVersion:
        attempts.append(version)
        if len(attempts) == 1:
            raise WorkerDied(
                "TensorFlow worker 0 was killed by SIGABRT while loading this version",
                "was killed by SIGABRT",
                during_request=True,
            )
        return FakeVersion(name, version)

    failures = Failures()
    manager = managers(load, policy=LoadPolicy(max_retries=1, retry_interval_seconds=0.05))
    manager.subscribe(failures)
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile(wait=False)
    wait_until("the retry serves", lambda: state(manager, "m", 1)[0] == State.AVAILABLE)
    assert attempts == [1, 1]
    assert failures.quarantined.get("m", 0) == 0


def test_a_model_dropped_from_the_config_stops_retrying(tmp_path: Path, managers) -> None:
    attempts = []

    def load(name: str, version: int, path: Path) -> FakeVersion:
        attempts.append(name)
        raise RuntimeError("broken")

    manager = managers(load, policy=LoadPolicy(max_retries=5, retry_interval_seconds=0.2))
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile()
    manager.configure(model_server_config_pb2.ModelServerConfig())
    manager.reconcile()
    time.sleep(0.5)
    assert attempts == ["m"]


@pytest.mark.parametrize(("threads", "most_at_once"), [(0, 1), (1, 1), (3, 3)])
def test_load_threads_load_that_many_versions_at_once(
    tmp_path: Path, managers, threads: int, most_at_once: int
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

    manager = managers(load, policy=LoadPolicy(load_threads=threads))
    manager.configure(repository(tmp_path, "a", "b", "c"))
    manager.reconcile()
    assert most[0] == most_at_once
    assert manager.unready_models() == []


def test_a_model_that_finishes_loading_after_it_was_dropped_is_closed(
    tmp_path: Path, managers
) -> None:
    started, release = threading.Event(), threading.Event()
    loaded: list[FakeVersion] = []

    def load(name: str, version: int, path: Path) -> FakeVersion:
        started.set()
        release.wait(WAIT)
        loaded.append(FakeVersion(name, version))
        return loaded[-1]

    manager = managers(load)
    manager.configure(repository(tmp_path, "m"))
    manager.reconcile(wait=False)
    assert started.wait(WAIT)
    manager.configure(model_server_config_pb2.ModelServerConfig())
    manager.reconcile(wait=False)
    release.set()
    wait_until("the late version is closed", lambda: bool(loaded) and loaded[0].closed)


# -- a base path that holds no version (issue 19) -----------------------------------------------


def test_a_base_path_holding_models_warns_once_naming_the_model_folder(
    tmp_path: Path, managers, caplog: pytest.LogCaptureFixture
) -> None:
    exported = tmp_path / "exported"
    add_version(exported, "mlp", 1)
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add()
    entry.name, entry.base_path = "mlp", str(exported)
    manager = managers(lambda name, version, path: FakeVersion(name, version))
    manager.configure(config)
    with caplog.at_level(logging.WARNING, "service.front.repository.manager"):
        for _ in range(3):
            manager.reconcile(wait=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"model mlp has no version to serve: no version folders under {exported}: expected "
        f"{exported}/<numeric version>/saved_model.pb; it holds models' folders: did you mean "
        f"{exported / 'mlp'}?"
    ]


def test_a_base_path_that_is_a_version_folder_says_so(tmp_path: Path, managers) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "saved_model.pb").write_bytes(b"")
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add()
    entry.name, entry.base_path = "m", str(tmp_path / "m")
    manager = managers(lambda name, version, path: FakeVersion(name, version))
    manager.configure(config)
    manager.reconcile()
    with pytest.raises(Exception, match=r"holds a saved_model.pb itself: did you mean to put it"):
        manager.status("m", None)

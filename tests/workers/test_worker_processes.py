"""The front and its TensorFlow workers as processes: no TensorFlow in the front, a killed worker
recovered without a hung request, a version swap seen by every worker, metrics exact across
processes, answers exact under concurrency.
"""

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import psutil
import pytest
import tensorflow as tf

from tests.conftest import export
from tests.reliability.conftest import metric, seed_copy
from tests.reliability.savedmodels import write_tiny_models
from tests.service.conftest import CALL_TIMEOUT, ServerProcess, copy_version, write_model_config
from tests.service.wire import example, float_output, predict_request, regress_request

pytestmark = pytest.mark.slow

WAIT = 60.0
X = np.linspace(-1, 1, 3 * 20, dtype=np.float32).reshape(3, 20)


def wait_until(what: str, condition, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        time.sleep(0.05)


def workers_of(server: ServerProcess) -> list[psutil.Process]:
    assert server.process is not None
    return psutil.Process(server.process.pid).children()


def worker_numbered(server: ServerProcess, index: int) -> psutil.Process:
    """The worker process started with `--index index` (the lane is the last)."""
    (worker,) = (w for w in workers_of(server) if str(index) == after(w.cmdline(), "--index"))
    return worker


def after(words: list[str], flag: str) -> str:
    return words[words.index(flag) + 1]


def mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, exported: Path, tfserving_testdata: Path
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("workers")
    tiny = write_tiny_models(root / "tiny")
    models = {
        "mlp": exported / "mlp",
        "swapped": seed_copy(exported, "mlp", root / "swapped"),  # the swap test adds to it
        "sleepy": tiny["sleepy"],
        "half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu",  # Regress
    }
    config = write_model_config(root / "models.config", models)
    flags = [
        f"--model_config_file={config}",
        "--num_workers=2",
        "--file_system_poll_wait_seconds=0.2",
    ]
    with ServerProcess(flags, root / "server.log") as server:
        yield server


def predict(server: ServerProcess, model: str, x: np.ndarray = X) -> np.ndarray:
    response = server.prediction.Predict(predict_request(model, {"x": x}), timeout=CALL_TIMEOUT)
    return float_output(response.outputs["y"])


def test_the_front_never_loads_tensorflow_and_each_worker_does(two_workers: ServerProcess) -> None:
    assert two_workers.process is not None
    front = mapped_files(two_workers.process.pid)
    assert "_pywrap_tensorflow" not in front and "libtensorflow" not in front
    workers = workers_of(two_workers)
    assert len(workers) == 3  # the two asked for, and the lane for large requests
    for worker in workers:
        assert "libtensorflow" in mapped_files(worker.pid)


def test_concurrent_answers_are_each_the_models_own_call_bit_for_bit(
    two_workers: ServerProcess, exported: Path
) -> None:
    """By default no request shares a TensorFlow call, however many arrive at once."""
    fn = tf.saved_model.load(str(exported / "mlp" / "1")).signatures["serving_default"]
    rng = np.random.default_rng(7)
    xs = [rng.normal(size=(1 + i % 4, 20)).astype(np.float32) for i in range(96)]
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda x: predict(two_workers, "mlp", x), xs))
    for x, answer in zip(xs, answers, strict=True):
        np.testing.assert_array_equal(answer, fn(x=tf.constant(x))["y"].numpy())


def test_metrics_count_every_request_once_across_worker_processes(
    two_workers: ServerProcess,
) -> None:
    def counts() -> tuple[float, float, float]:
        return (
            metric(two_workers, "blockserve_requests_total", model="mlp", code="OK"),
            metric(two_workers, "blockserve_inference_duration_seconds_count", model="mlp"),
            metric(two_workers, "blockserve_worker_calls_total"),
        )

    before = counts()
    sent = 200
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: predict(two_workers, "mlp"), range(sent)))
    after = counts()
    assert [a - b for a, b in zip(after, before, strict=True)] == [sent, sent, sent]
    for worker in ("0", "1"):  # concurrent calls go to the less busy worker: both take some
        assert metric(two_workers, "blockserve_worker_calls_total", worker=worker) > 0


def test_a_version_swap_is_seen_by_every_worker_with_no_failed_request(
    two_workers: ServerProcess, exported: Path, tmp_path: Path
) -> None:
    server = two_workers
    old = predict(server, "swapped")
    other_seed = tmp_path / "other"
    assert export(other_seed, "--seed", "1", "--models", "mlp").returncode == 0
    failures: list[str] = []
    answers: list[np.ndarray] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                answers.append(predict(server, "swapped"))
            except grpc.RpcError as e:
                failures.append(f"{e.code()}: {e.details()}")

    threads = [threading.Thread(target=traffic) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        copy_version(other_seed / "mlp" / "1", server.log_path.parent / "swapped" / "mlp", 2)
        wait_until("version 2 answers", lambda: not np.array_equal(predict(server, "swapped"), old))
        calls_before = [
            metric(server, "blockserve_worker_calls_total", worker=w) for w in ("0", "1")
        ]
        time.sleep(1.0)  # traffic on version 2 alone
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    new = predict(server, "swapped")
    late = answers[-20:]
    assert all(np.array_equal(a, new) for a in late), "an old answer after the swap"
    for worker, before in zip(("0", "1"), calls_before, strict=True):
        after = metric(server, "blockserve_worker_calls_total", worker=worker)
        assert after > before, f"worker {worker} took no call on version 2"


def test_a_killed_worker_fails_its_requests_fast_and_comes_back(
    two_workers: ServerProcess,
) -> None:
    server = two_workers
    restarts_before = metric(server, "blockserve_worker_restarts_total")
    long_calls = both_workers_asleep(server)
    # Both workers are asleep in TensorFlow (one call each); kill them all.
    time.sleep(0.3)
    started = time.monotonic()
    for worker in workers_of(server):
        os.kill(worker.pid, signal.SIGKILL)
    for call in long_calls:
        with pytest.raises(grpc.RpcError) as raised:
            call.result()
        # Each was the call its worker was running when it died.
        assert raised.value.code() == grpc.StatusCode.INTERNAL, raised.value.details()
        assert "while running this request" in raised.value.details()
    assert time.monotonic() - started < 10, "the requests waited for the sleep to end"
    # Meanwhile requests are refused at once, never held.
    try:
        predict(server, "mlp")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e.details()
    wait_until("the workers are back", lambda: answers(server, "mlp", X))
    wait_until(
        "the three restarts are counted",
        lambda: metric(server, "blockserve_worker_restarts_total") == restarts_before + 3,
    )
    assert len(workers_of(server)) == 3
    assert predict(server, "swapped").shape == (3, 10)


def test_requests_a_dying_worker_had_not_started_are_served_by_another(
    two_workers: ServerProcess,
) -> None:
    server = two_workers
    wait_until("every worker is back", lambda: len(workers_of(server)) == 3)
    wait_until("sleepy answers", lambda: answers(server, "sleepy", np.zeros((1, 1), np.float32)))
    resent = metric(server, "blockserve_requests_resent_total")
    long_calls = both_workers_asleep(server)
    # Each worker runs a long call; these wait behind them, never started.
    queued = [
        server.prediction.Predict.future(predict_request("mlp", {"x": X}), timeout=CALL_TIMEOUT)
        for _ in range(4)
    ]
    # Regress decodes in the front and runs its arrays in a worker: resent all the same.
    regress = server.prediction.Regress.future(
        regress_request("half_plus_two", "regress_x_to_y", example(x=3.0)), timeout=CALL_TIMEOUT
    )
    wait_until(
        "the five wait in the workers",
        lambda: metric(server, "blockserve_inflight_requests") >= 7,
        timeout=10,
    )
    time.sleep(0.3)
    for worker in [worker_numbered(server, index) for index in (0, 1)]:
        os.kill(worker.pid, signal.SIGKILL)
    for call in long_calls:
        with pytest.raises(grpc.RpcError) as raised:
            call.result()
        assert raised.value.code() == grpc.StatusCode.INTERNAL, raised.value.details()
    # The lane took them, with the very answer of the model.
    expected = predict(server, "mlp")
    for call in queued:
        np.testing.assert_array_equal(float_output(call.result().outputs["y"]), expected)
    assert [r.value for r in regress.result().result.regressions] == [3.5]
    # Five resent at least: one may meet the other dying worker before the lane.
    assert metric(server, "blockserve_requests_resent_total") - resent >= 5


def both_workers_asleep(server: ServerProcess) -> list[grpc.Future]:
    """A 20 s call of `sleepy` in each worker, once both are running."""
    long_calls = [predict_sleepy_future(server, 20.0) for _ in range(2)]
    wait_until(
        "both workers are busy",
        lambda: metric(server, "blockserve_inflight_requests") >= 2,
        timeout=10,
    )
    return long_calls


def predict_sleepy_future(server: ServerProcess, seconds: float) -> grpc.Future:
    request = predict_request("sleepy", {"x": np.full((1, 1), seconds, np.float32)})
    return server.prediction.Predict.future(request, timeout=CALL_TIMEOUT)


def answers(server: ServerProcess, model: str, x: np.ndarray) -> bool:
    try:
        predict(server, model, x)
    except grpc.RpcError:
        return False
    return True

"""The switchboard end to end: a real server whose front forwards request bytes to TensorFlow
workers, under 256 concurrent requests over gRPC Predict, REST :predict and V2 infer, with exact
batching on (the default) and off. Every answer is bit for bit the SavedModel's own call on the
same rows; requests that wait together are looped only when exact batching is on; a request
above --large_request_bytes goes to the lane worker while small ones keep being answered.
"""

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models.catalog import CATALOG
from tests.reliability.conftest import metric
from tests.service.conftest import (
    CALL_TIMEOUT,
    SEED_MODELS,
    ServerProcess,
    write_model_config,
)
from tests.service.wire import float_output, predict_request

pytestmark = pytest.mark.slow

CONCURRENT = 256
THREADS = 64
START_TIMEOUT = 240.0
"""Seven models loaded in two worker processes (the lane too) on a shared 2-core machine."""
LARGE_ROWS = 20_000
"""Rows of mlp whose REST body (about 8 MB of JSON) is far above the default 1 MiB lane bound."""
COUPLED = ("fixed_hidden_mlp", "chimera")
MERGED_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
"""A merged row may differ from its own call in the last bits (README, "Exact answers and
batching")."""
Reference = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="module", params=["exact", "no_exact"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, exported: Path
) -> Iterator[ServerProcess]:
    """Every seed model, default flags (exact batching off) and with --enable_exact_batching."""
    root = tmp_path_factory.mktemp(f"switchboard-{request.param}")
    flags = ["--enable_exact_batching=true"] if request.param == "exact" else []
    process = start(root, {name: exported / name for name in SEED_MODELS}, *flags)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def merging_server(
    tmp_path_factory: pytest.TempPathFactory, exported: Path
) -> Iterator[ServerProcess]:
    """--enable_batching: rows of independent models are merged, coupled ones never."""
    models = {name: exported / name for name in ("mlp", *COUPLED)}
    process = start(tmp_path_factory.mktemp("switchboard-merging"), models, "--enable_batching")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def reference(exported: Path) -> dict[str, Reference]:
    """Each seed model's own call in this process, as tf.saved_model.load gives it."""
    functions = {}
    for name in SEED_MODELS:
        function = tf.saved_model.load(str(exported / name / "1")).signatures["serving_default"]
        functions[name] = lambda x, f=function: f(x=tf.constant(x))["y"].numpy()
    return functions


def exact_batching(server: ServerProcess) -> bool:
    return "--enable_exact_batching=true" in server.flags


def start(root: Path, models: dict[str, Path], *flags: str) -> ServerProcess:
    config = write_model_config(root / "models.config", models)
    return ServerProcess([f"--model_config_file={config}", *flags], root / "server.log").start(
        START_TIMEOUT
    )


# -- one request over each protocol -----------------------------------------------------------


def grpc_predict(server: ServerProcess, name: str, x: np.ndarray) -> np.ndarray:
    response = server.prediction.Predict(predict_request(name, {"x": x}), timeout=CALL_TIMEOUT)
    return float_output(response.outputs["y"])


def rest_predict(server: ServerProcess, name: str, x: np.ndarray) -> np.ndarray:
    response = server.rest("POST", f"/v1/models/{name}:predict", {"inputs": x.tolist()})
    assert response.status == 200, response.body[:500]
    return np.array(response.json()["outputs"], np.float32)


def v2_infer(server: ServerProcess, name: str, x: np.ndarray) -> np.ndarray:
    tensor = {"name": "x", "datatype": "FP32", "shape": list(x.shape), "data": x.ravel().tolist()}
    response = server.rest("POST", f"/v2/models/{name}/infer", {"inputs": [tensor]})
    assert response.status == 200, response.body[:500]
    (output,) = response.json()["outputs"]
    assert output["datatype"] == "FP32"
    return np.array(output["data"], np.float32).reshape(output["shape"])


def protocol_for(i: int) -> Callable[[ServerProcess, str, np.ndarray], np.ndarray]:
    """Mostly gRPC, the load that makes requests wait together; some of each REST route."""
    return {6: rest_predict, 7: v2_infer}.get(i % 8, grpc_predict)


def inputs(name: str, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    features = CATALOG[name].features
    return [rng.standard_normal((1 + i % 3, features)).astype(np.float32) for i in range(count)]


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_MODELS)
def test_concurrent_answers_are_each_the_models_own_call_bit_for_bit(
    server: ServerProcess, reference: dict[str, Reference], name: str
) -> None:
    xs = inputs(name, CONCURRENT, seed=len(name))
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda i: protocol_for(i)(server, name, xs[i]), range(len(xs))))
    for i, (x, answer) in enumerate(zip(xs, answers, strict=True)):
        own = reference[name](x)
        assert answer.shape == own.shape, f"request {i} ({protocol_for(i).__name__})"
        assert answer.tobytes() == own.tobytes(), f"request {i} ({protocol_for(i).__name__})"


def test_requests_that_wait_together_are_looped_only_with_exact_batching(
    server: ServerProcess, reference: dict[str, Reference]
) -> None:
    """Under 64 concurrent streams requests for mlp do wait together in the worker."""
    xs = inputs("mlp", CONCURRENT, seed=1)
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda x: grpc_predict(server, "mlp", x), xs))
    for x, answer in zip(xs, answers, strict=True):
        np.testing.assert_array_equal(answer, reference["mlp"](x))
    looped = metric(server, "blockserve_request_paths_total", model="mlp", path="looped")
    single = metric(server, "blockserve_request_paths_total", model="mlp", path="single")
    merged = metric(server, "blockserve_request_paths_total", path="merged")
    assert merged == 0, "rows were merged without --enable_batching"
    if exact_batching(server):
        assert looped > 0
    else:
        assert looped == 0
        assert single >= CONCURRENT


def test_a_large_request_goes_to_the_lane_and_small_ones_keep_being_answered(
    server: ServerProcess, reference: dict[str, Reference]
) -> None:
    large = np.random.default_rng(2).standard_normal((LARGE_ROWS, 20)).astype(np.float32)
    body = json.dumps({"instances": large.tolist()})
    assert len(body) > 1 << 20
    lane_before = metric(server, "blockserve_worker_calls_total", worker="1")
    small_failures: list[str] = []
    small_answered = 0
    stop = threading.Event()

    def small_traffic() -> None:
        nonlocal small_answered
        x = np.ones((1, 20), np.float32)
        while not stop.is_set():
            try:
                answer = grpc_predict(server, "mlp", x)
                assert answer.tobytes() == reference["mlp"](x).tobytes()
                small_answered += 1
            except Exception as e:
                small_failures.append(repr(e))

    threads = [threading.Thread(target=small_traffic) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        responses = [server.rest("POST", "/v1/models/mlp:predict", body) for _ in range(2)]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    for response in responses:
        assert response.status == 200, response.body[:500]
        predictions = np.array(response.json()["predictions"], np.float32)
        assert predictions.tobytes() == reference["mlp"](large).tobytes()
    assert metric(server, "blockserve_worker_calls_total", worker="1") == lane_before + 2
    assert small_failures == []
    assert small_answered > 0


@pytest.mark.parametrize("protocol", [grpc_predict, rest_predict, v2_infer])
def test_large_requests_and_answers_cross_out_of_band_bit_for_bit(
    server: ServerProcess,
    reference: dict[str, Reference],
    protocol: Callable[[ServerProcess, str, np.ndarray], np.ndarray],
) -> None:
    # 40,000 rows: the request and the answer are each over channel.LARGE_BYTES in every
    # protocol (1.6 MB of answer floats at the least), so both travel beside the pickle.
    x = np.random.default_rng(3).standard_normal((2 * LARGE_ROWS, 20)).astype(np.float32)
    assert protocol(server, "mlp", x).tobytes() == reference["mlp"](x).tobytes()


def test_with_row_merging_independent_rows_are_merged_within_the_last_bits(
    merging_server: ServerProcess, reference: dict[str, Reference]
) -> None:
    xs = inputs("mlp", CONCURRENT, seed=4)
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda x: grpc_predict(merging_server, "mlp", x), xs))
    for x, answer in zip(xs, answers, strict=True):
        own = reference["mlp"](x)
        assert answer.shape == own.shape
        np.testing.assert_allclose(answer, own, **MERGED_TOLERANCE)
    assert metric(merging_server, "blockserve_request_paths_total", model="mlp", path="merged") > 0


@pytest.mark.parametrize("name", COUPLED)
def test_with_row_merging_coupled_models_stay_exact_under_concurrency(
    merging_server: ServerProcess, reference: dict[str, Reference], name: str
) -> None:
    """Requests of one and two rows wait together: never merged, never stacked together."""
    xs = inputs(name, CONCURRENT, seed=3)
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda x: grpc_predict(merging_server, name, x), xs))
    for x, answer in zip(xs, answers, strict=True):
        assert answer.tobytes() == reference[name](x).tobytes()
    assert metric(merging_server, "blockserve_request_paths_total", model=name, path="merged") == 0
    assert metric(merging_server, "blockserve_worker_restarts_total") == 0

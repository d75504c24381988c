"""Request batching with a real loaded model: merging, equal answers, no idle wait, no coupling."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from service.batching.params import BatchingParameters
from service.batching.queue import BatchQueue
from service.batching.router import BatchingMode, Scheduler
from service.metrics import Metrics
from service.runtime.model_version import ModelVersion

TAGS = frozenset({"serve"})


@pytest.fixture(scope="module")
def mlp(exported: Path) -> ModelVersion:
    return ModelVersion("mlp", 1, exported / "mlp" / "1", TAGS)


@pytest.fixture(scope="module")
def coupled(exported: Path) -> ModelVersion:
    return ModelVersion("fixed_hidden_mlp", 1, exported / "fixed_hidden_mlp" / "1", TAGS)


def requests(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(1 + i % 3, 20)).astype(np.float32) for i in range(count)]


def batch_calls(metrics: Metrics, model: str) -> tuple[float, float]:
    """(TensorFlow calls, rows) recorded for `model`."""
    get = metrics.registry.get_sample_value
    labels = {"model": model, "version": "1"}
    return (
        get("blockserve_batch_size_count", labels) or 0.0,
        get("blockserve_batch_size_sum", labels) or 0.0,
    )


async def run_all(run, model: ModelVersion, xs: list[np.ndarray]) -> list[np.ndarray]:
    answers = await asyncio.gather(*(run(model, "serving_default", {"x": x}, (), None) for x in xs))
    return [a["y"] for a in answers]


def test_waiting_requests_share_calls_and_get_their_own_rows_back(mlp: ModelVersion) -> None:
    metrics = Metrics()
    params = BatchingParameters(max_batch_size=64, num_batch_threads=1)
    with ThreadPoolExecutor(2) as executor:
        queue = BatchQueue(mlp, params, executor, metrics)
        xs = requests(40)
        answers = asyncio.run(run_all(queue.run, mlp, xs))
    calls, rows = batch_calls(metrics, "mlp")
    assert rows == sum(len(x) for x in xs)
    assert calls < len(xs) / 4, f"{calls} calls for {len(xs)} requests: nothing was merged"
    for x, answer in zip(xs, answers, strict=True):
        # Equal to one call per request, bit for bit on this CPU's kernels.
        np.testing.assert_array_equal(answer, mlp.run("serving_default", {"x": x}, ())["y"])


def test_allowed_batch_sizes_pad_and_strip_the_padding(mlp: ModelVersion) -> None:
    metrics = Metrics()
    params = BatchingParameters(max_batch_size=32, num_batch_threads=1, allowed_batch_sizes=(8, 32))
    with ThreadPoolExecutor(2) as executor:
        queue = BatchQueue(mlp, params, executor, metrics)
        xs = requests(12, seed=1)
        answers = asyncio.run(run_all(queue.run, mlp, xs))
    for x, answer in zip(xs, answers, strict=True):
        assert answer.shape == (len(x), 10)
        np.testing.assert_array_equal(answer, mlp.run("serving_default", {"x": x}, ())["y"])


def test_a_lone_request_never_waits_for_the_batch_timeout(mlp: ModelVersion) -> None:
    params = BatchingParameters(max_batch_size=64, batch_timeout_micros=30_000_000)
    with ThreadPoolExecutor(2) as executor:
        queue = BatchQueue(mlp, params, executor, Metrics())
        started = time.monotonic()
        asyncio.run(run_all(queue.run, mlp, requests(1)))
    # The timeout is 30 s; an idle queue dispatches at once (a structural check, not a speed one).
    assert time.monotonic() - started < 15


def test_coupled_rows_are_never_merged(coupled: ModelVersion) -> None:
    metrics = Metrics()
    params = BatchingParameters(max_batch_size=64, num_batch_threads=1)
    with ThreadPoolExecutor(2) as executor:
        scheduler = Scheduler(BatchingMode.ON, params, executor, metrics, 1000)
        assert not scheduler.batches(coupled)
        xs = requests(20, seed=2)
        answers = asyncio.run(run_all(scheduler.run, coupled, xs))
    calls, _ = batch_calls(metrics, "fixed_hidden_mlp")
    assert calls == len(xs)
    for x, answer in zip(xs, answers, strict=True):
        assert answer.shape == ()
        np.testing.assert_array_equal(answer, coupled.run("serving_default", {"x": x}, ())["y"])


@pytest.mark.parametrize(
    ("mode", "coupled_rows", "batches"),
    [
        (BatchingMode.AUTO, False, True),
        (BatchingMode.AUTO, None, False),
        (BatchingMode.AUTO, True, False),
        (BatchingMode.ON, None, True),
        (BatchingMode.ON, True, False),
        (BatchingMode.OFF, False, False),
    ],
)
def test_batching_mode_decides_by_what_the_export_says(
    mlp: ModelVersion, mode: BatchingMode, coupled_rows: bool | None, batches: bool
) -> None:
    original = mlp.facts
    mlp.facts = replace(original, rows_coupled=coupled_rows)
    try:
        with ThreadPoolExecutor(1) as executor:
            scheduler = Scheduler(mode, BatchingParameters(), executor, Metrics(), 10)
            assert scheduler.batches(mlp) is batches
    finally:
        mlp.facts = original

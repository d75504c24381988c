"""The direct scheduler: one TensorFlow call per request, on a bounded pool of threads."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from service.errors import DeadlineExceeded, ResourceExhausted
from service.metrics import Metrics
from service.runtime.model_version import ModelVersion


def rows_of(inputs: dict[str, np.ndarray]) -> int:
    """The batch dimension of a request (1 for scalars)."""
    first = next(iter(inputs.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim else 1


class DirectScheduler:
    """Runs each request's call on its own, refusing work beyond a bounded queue."""

    def __init__(self, executor: ThreadPoolExecutor, metrics: Metrics, max_queued: int) -> None:
        self._executor = executor
        self._metrics = metrics
        self._max_queued = max_queued
        self._queued = 0

    @property
    def queued(self) -> int:
        return self._queued

    async def run(
        self,
        model: ModelVersion,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> dict[str, np.ndarray]:
        """Run one call once a thread is free; refuse at once when too many wait already."""
        if self._queued >= self._max_queued:
            raise ResourceExhausted(
                f"{self._queued} requests are waiting for TensorFlow; try again later"
            )
        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor,
                self._call,
                model,
                signature,
                inputs,
                outputs,
                deadline,
                time.perf_counter(),
            )
        finally:
            self._queued -= 1

    def _call(
        self,
        model: ModelVersion,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
        enqueued: float,
    ) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        version = str(model.version)
        self._metrics.queue_duration.labels(model.name, version).observe(started - enqueued)
        if deadline is not None and time.monotonic() >= deadline:
            raise DeadlineExceeded("the deadline passed while the request waited for TensorFlow")
        result = model.run(signature, inputs, outputs)
        self._metrics.inference_duration.labels(model.name, version, signature).observe(
            time.perf_counter() - started
        )
        self._metrics.batch_size.labels(model.name, version).observe(rows_of(inputs))
        return result

"""Chooses, per model version, between a batch queue and one call per request."""

from concurrent.futures import ThreadPoolExecutor
from enum import Enum

import numpy as np

from service.batching.params import BatchingParameters
from service.batching.queue import BatchQueue
from service.batching.scheduler import DirectScheduler, rows_of
from service.metrics import Metrics
from service.runtime.model_version import ModelVersion


class BatchingMode(Enum):
    OFF = "off"
    AUTO = "auto"
    """Batch versions whose export says their rows are independent."""
    ON = "on"
    """Batch every version not known to couple its rows (TensorFlow Serving's --enable_batching)."""


class Scheduler:
    """The one place where all requests for a model version meet its TensorFlow call."""

    def __init__(
        self,
        mode: BatchingMode,
        params: BatchingParameters,
        executor: ThreadPoolExecutor,
        metrics: Metrics,
        max_queued_requests: int,
    ) -> None:
        self._mode = mode
        self._params = params
        self._executor = executor
        self._metrics = metrics
        self._direct = DirectScheduler(executor, metrics, max_queued_requests)
        self._queues: dict[tuple[str, int], BatchQueue] = {}

    def batches(self, model: ModelVersion) -> bool:
        """Whether requests for `model` may share a call: never for coupled rows."""
        coupled = model.facts.rows_coupled
        if self._mode is BatchingMode.ON:
            return coupled is not True
        return self._mode is BatchingMode.AUTO and coupled is False

    async def run(
        self,
        model: ModelVersion,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> dict[str, np.ndarray]:
        # A request that fills a batch on its own gains nothing from waiting for company.
        if not self.batches(model) or rows_of(inputs) >= self._params.max_batch_size:
            return await self._direct.run(model, signature, inputs, outputs, deadline)
        key = (model.name, model.version)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = BatchQueue(
                model, self._params, self._executor, self._metrics
            )
        return await queue.run(model, signature, inputs, outputs, deadline)

    # RepositoryListener: a version's queue goes with it.

    def version_available(self, model: ModelVersion) -> None:
        pass

    def version_unavailable(self, name: str, version: int) -> None:
        self._queues.pop((name, version), None)

    def models_configured(self, names: list[str]) -> None:
        pass

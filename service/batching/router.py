"""Chooses, per model version, between a batch queue and one call per request."""

import logging

import numpy as np

from service.batching.params import BatchingParameters, read_version_batching_parameters
from service.batching.queue import BatchQueue
from service.batching.scheduler import DirectScheduler, rows_of
from service.config import ConfigError
from service.metrics import Metrics
from service.workers.loaded import LoadedVersion

log = logging.getLogger(__name__)


class Scheduler:
    """The one place where all requests for a model version meet its TensorFlow call.

    Without batching (the default, as in TensorFlow Serving) every request is one call, so its
    answer is bit for bit what the model gives for those rows alone. With it, requests waiting
    together share a call, except for models that couple their rows.
    """

    def __init__(
        self,
        enable_batching: bool,
        params: BatchingParameters,
        metrics: Metrics,
        max_queued_requests: int,
        per_model_parameters: bool = False,
    ) -> None:
        self._enabled = enable_batching
        self._params = params
        self._per_model = per_model_parameters
        self._metrics = metrics
        self._direct = DirectScheduler(metrics, max_queued_requests)
        self._queues: dict[tuple[str, int], BatchQueue] = {}

    def batches(self, model: LoadedVersion) -> bool:
        """Whether requests for `model` may share a call: never for coupled rows."""
        return self._enabled and model.facts.rows_coupled is not True

    async def run(
        self,
        model: LoadedVersion,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
        mergeable: bool = True,
    ) -> dict[str, np.ndarray]:
        """`mergeable` is False for a request not in its signature's declared shape: the graph
        may take it, but its rows cannot line up with other requests'."""
        queue = self._queues.get((model.name, model.version)) if mergeable else None
        if queue is None and mergeable and self.batches(model):
            queue = self._queues[(model.name, model.version)] = self._queue_for(model)
        # A request that fills a batch on its own gains nothing from waiting for company.
        if queue is None or rows_of(inputs) >= queue.max_batch_size:
            return await self._direct.run(model, signature, inputs, outputs, deadline)
        return await queue.run(signature, inputs, outputs, deadline)

    def _queue_for(self, model: LoadedVersion) -> BatchQueue:
        params = self._params
        if self._per_model:
            try:
                params = read_version_batching_parameters(model.path, params)
            except ConfigError as e:
                log.error("%s version %d: %s; using the server's", model.name, model.version, e)
        return BatchQueue(model, params, self._metrics)

    # RepositoryListener: a version's queue goes with it.

    def version_available(self, model: LoadedVersion) -> None:
        pass

    def version_unavailable(self, name: str, version: int) -> None:
        self._queues.pop((name, version), None)

    def models_configured(self, names: list[str]) -> None:
        pass

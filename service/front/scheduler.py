"""The direct scheduler: one TensorFlow call per request, as it came, with a bounded queue."""

import time

import numpy as np

from service.front.metrics import Children, Metrics
from service.front.workers.loaded import LoadedVersion
from service.front.workers.pool import MAX_RESENDS
from service.shared.errors import NotStarted, ResourceExhausted


def rows_of(inputs: dict[str, np.ndarray]) -> int:
    """The batch dimension of a request (1 for scalars)."""
    first = next(iter(inputs.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim else 1


class DirectScheduler:
    """Sends each request's call to the workers on its own, refusing work beyond a bound."""

    def __init__(self, metrics: Metrics, max_queued: int) -> None:
        self._queue_durations = Children(metrics.queue_duration)
        self._inference_durations = Children(metrics.inference_duration)
        self._batch_sizes = Children(metrics.batch_size)
        self._resent = metrics.resent
        self._max_queued = max_queued
        self._queued = 0

    @property
    def queued(self) -> int:
        return self._queued

    async def run(
        self,
        model: LoadedVersion,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> dict[str, np.ndarray]:
        """Run one call; refuse at once when too many wait for TensorFlow already."""
        if self._queued >= self._max_queued:
            raise ResourceExhausted(
                f"{self._queued} requests are waiting for TensorFlow; try again later"
            )
        self._queued += 1
        enqueued = time.monotonic()
        try:
            for resends in range(MAX_RESENDS + 1):
                try:
                    result, started, seconds = await model.run(signature, inputs, outputs, deadline)
                    break
                except NotStarted:  # its worker died before starting it: another takes it
                    if resends == MAX_RESENDS:
                        raise
                    self._resent.inc()
        finally:
            self._queued -= 1
        version = str(model.version)
        self._queue_durations(model.name, version).observe(started - enqueued)
        self._inference_durations(model.name, version, signature).observe(seconds)
        self._batch_sizes(model.name, version).observe(rows_of(inputs))
        return result

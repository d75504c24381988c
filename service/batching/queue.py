"""Request batching for one model version: requests that wait together run as one call.

Batches form only from requests that are already waiting while every batch thread is busy, so a
lone request on an idle server starts at once. Rows are merged only for versions whose rows are
independent; the router never sends a coupled model here.
"""

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from service.batching.params import BatchingParameters
from service.batching.scheduler import rows_of
from service.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted, ServingError
from service.metrics import Children, Metrics
from service.workers.loaded import LoadedVersion

GroupKey = tuple[str, tuple[str, ...], tuple[tuple[str, str, tuple[int, ...]], ...]]


@dataclass
class Pending:
    """One request waiting in the queue."""

    inputs: dict[str, np.ndarray]
    rows: int
    deadline: float | None
    future: asyncio.Future[dict[str, np.ndarray]]
    enqueued: float = field(default_factory=time.monotonic)


class BatchQueue:
    """Merges compatible requests for one model version into TensorFlow calls."""

    def __init__(
        self,
        model: LoadedVersion,
        params: BatchingParameters,
        metrics: Metrics,
    ) -> None:
        self._model = model
        self._params = params
        self._labels = (model.name, str(model.version))
        self._queue_metric = metrics.queue_duration.labels(*self._labels)
        self._batch_metric = metrics.batch_size.labels(*self._labels)
        self._inference = Children(metrics.inference_duration)
        self._groups: dict[GroupKey, deque[Pending]] = {}
        self._queued_rows = 0
        self._running = 0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def max_batch_size(self) -> int:
        return self._params.max_batch_size

    async def run(
        self,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> dict[str, np.ndarray]:
        rows = rows_of(inputs)
        if self._queued_rows + rows > self._params.max_queued_rows and self._queued_rows:
            raise ResourceExhausted(
                f"{self._queued_rows} rows are queued for {self._model.name} version "
                f"{self._model.version}; try again later"
            )
        key: GroupKey = (
            signature,
            outputs,
            tuple(sorted((k, v.dtype.str, v.shape[1:]) for k, v in inputs.items())),
        )
        pending = Pending(inputs, rows, deadline, asyncio.get_running_loop().create_future())
        self._groups.setdefault(key, deque()).append(pending)
        self._queued_rows += rows
        self._dispatch()
        return await pending.future

    def _dispatch(self, waited: bool = False) -> None:
        params = self._params
        while self._groups and self._running < params.num_batch_threads:
            if (
                not waited
                and self._running
                and params.batch_timeout_micros
                and not self._full_batch_waiting()
            ):
                # Busy: give more requests the timeout to join. Idle: never wait.
                if self._timer is None:
                    self._timer = asyncio.get_running_loop().call_later(
                        params.batch_timeout_micros / 1e6, self._timer_fired
                    )
                return
            key, batch = self._take()
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._execute(key, batch))
            task.add_done_callback(lambda t, batch=batch: self._finished(t, batch))

    def _timer_fired(self) -> None:
        self._timer = None
        self._dispatch(waited=True)

    def _full_batch_waiting(self) -> bool:
        return any(
            sum(p.rows for p in group) >= self._params.max_batch_size
            for group in self._groups.values()
        )

    def _take(self) -> tuple[GroupKey, list[Pending]]:
        """The group whose oldest request waited longest, up to max_batch_size rows."""
        key = min(self._groups, key=lambda k: self._groups[k][0].enqueued)
        group = self._groups[key]
        batch = [group.popleft()]
        rows = batch[0].rows
        while group and rows + group[0].rows <= self._params.max_batch_size:
            rows += group[0].rows
            batch.append(group.popleft())
        if not group:
            del self._groups[key]
        self._queued_rows -= rows
        return key, batch

    async def _execute(
        self, key: GroupKey, batch: list[Pending]
    ) -> list[dict[str, np.ndarray] | ServingError]:
        """Drop expired requests, merge the rest, call, split the answer."""
        now = time.monotonic()
        results: list[dict[str, np.ndarray] | ServingError] = []
        live = []
        for pending in batch:
            if pending.deadline is not None and now >= pending.deadline:
                self._queue_metric.observe(now - pending.enqueued)
                results.append(DeadlineExceeded("the deadline passed while the request was queued"))
            else:
                results.append({})
                live.append(pending)
        if not live:
            return results
        signature, outputs, _ = key
        rows = sum(p.rows for p in live)
        padded = self._padded_size(rows)
        merged = {
            name: _concatenate([p.inputs[name] for p in live], padded - rows)
            for name in live[0].inputs
        }
        try:
            answer, started, seconds = await self._model.run(signature, merged, outputs, None)
            for pending in live:
                self._queue_metric.observe(started - pending.enqueued)
            self._inference(*self._labels, signature).observe(seconds)
            self._batch_metric.observe(rows)
            if len(live) == 1 and padded == rows:
                return [answer if isinstance(r, dict) else r for r in results]
            for name, array in answer.items():
                if array.ndim == 0 or array.shape[0] != padded:
                    raise InvalidArgument(
                        f"output {name!r} has shape {list(array.shape)}, not one row per input "
                        "row, so requests cannot be batched; serve this model with batching off"
                    )
        except ServingError as e:
            return [e if isinstance(r, dict) else r for r in results]
        offset = 0
        split = iter(live)
        for i, result in enumerate(results):
            if isinstance(result, dict):
                pending = next(split)
                results[i] = {k: v[offset : offset + pending.rows] for k, v in answer.items()}
                offset += pending.rows
        return results

    def _padded_size(self, rows: int) -> int:
        for size in self._params.allowed_batch_sizes:
            if size >= rows:
                return size
        return rows

    def _finished(self, task: asyncio.Task, batch: list[Pending]) -> None:
        self._running -= 1
        error = task.exception()
        for i, pending in enumerate(batch):
            if pending.future.done():  # the client gave up
                continue
            if error is not None:
                pending.future.set_exception(error)
                continue
            result = task.result()[i]
            if isinstance(result, ServingError):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)
        self._dispatch()


def _concatenate(parts: list[np.ndarray], padding: int) -> np.ndarray:
    if padding:
        parts = [*parts, np.zeros((padding, *parts[0].shape[1:]), parts[0].dtype)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)

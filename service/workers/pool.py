"""The TensorFlow workers of one front: every worker loads every version; calls go to the
least busy worker that has the version; a worker that dies is started again and reloaded."""

import asyncio
import logging
from pathlib import Path

import numpy as np

from service.errors import Unavailable
from service.metrics import Metrics
from service.runtime.description import VersionDescription
from service.runtime.options import RuntimeOptions
from service.workers import channel
from service.workers.process import Key, WorkerProcess, WorkerSettings

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 0.5
"""Between a worker's death and its restart, so that a worker that dies at once cannot spin."""

Outcome = tuple[dict[str, np.ndarray], float, float]
"""A call's outputs, when TensorFlow started it (monotonic clock) and how long it took."""


class WorkerPool:
    """Starts, feeds, restarts and stops the worker processes."""

    def __init__(
        self, count: int, settings: WorkerSettings, options: RuntimeOptions, metrics: Metrics
    ) -> None:
        self._settings = settings
        self._options = options
        self._workers = [WorkerProcess(i, settings, self._exited) for i in range(count)]
        self._calls = [metrics.worker_calls.labels(str(i)) for i in range(count)]
        self._restart_count = [metrics.worker_restarts.labels(str(i)) for i in range(count)]
        self._versions: dict[Key, Path] = {}
        """What every worker should hold: restarts reload it."""
        self._restarts: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def workers(self) -> list[WorkerProcess]:
        return list(self._workers)

    async def start(self) -> None:
        await asyncio.gather(*(w.start() for w in self._workers))
        for worker in self._workers:
            worker.ready = True

    # -- versions -----------------------------------------------------------------------------

    async def load(self, name: str, version: int, path: Path) -> VersionDescription:
        """Load a version in every running worker; if one fails, none keeps it."""
        key = (name, version)
        self._versions[key] = path
        running = [w for w in self._workers if w.ready]
        if not running:
            self._versions.pop(key)
            raise Unavailable("no TensorFlow worker is running")
        answers = await asyncio.gather(
            *(self._load_in(w, key, path) for w in running), return_exceptions=True
        )
        failures = [a for a in answers if isinstance(a, BaseException)]
        if failures:
            await self.unload(name, version)
            raise failures[0]
        return answers[0]

    async def _load_in(self, worker: WorkerProcess, key: Key, path: Path) -> VersionDescription:
        description: VersionDescription = await worker.call(
            channel.LOAD, *key, str(path), self._options
        )
        if key in self._versions:
            worker.loaded.add(key)
        return description

    async def unload(self, name: str, version: int) -> None:
        key = (name, version)
        self._versions.pop(key, None)
        holding = [w for w in self._workers if key in w.loaded]
        for worker in holding:
            worker.loaded.discard(key)
        await asyncio.gather(
            *(w.call(channel.UNLOAD, *key) for w in holding), return_exceptions=True
        )

    # -- calls --------------------------------------------------------------------------------

    def run(
        self,
        key: Key,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> "asyncio.Future[Outcome]":
        worker = self._pick(key)
        self._calls[worker.index].inc()
        return worker.call(channel.RUN, key, signature, inputs, outputs, deadline)

    async def compare(self, key: Key, base_dir: Path, base_version: int) -> bytes:
        answer: bytes = await self._pick(key).call(
            channel.COMPARE, *key, str(base_dir), base_version
        )
        return answer

    def _pick(self, key: Key) -> WorkerProcess:
        holding = [w for w in self._workers if w.ready and key in w.loaded]
        if not holding:
            raise Unavailable(
                f"no TensorFlow worker holds model {key[0]!r} version {key[1]} right now "
                "(a worker is restarting); try again"
            )
        return min(holding, key=lambda w: w.outstanding)

    # -- restarts -----------------------------------------------------------------------------

    def _exited(self, worker: WorkerProcess) -> None:
        if self._stopping:
            return
        task = asyncio.get_running_loop().create_task(self._restart(worker.index))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart(self, index: int) -> None:
        while not self._stopping:
            await asyncio.sleep(RESTART_DELAY_SECONDS)
            worker = WorkerProcess(index, self._settings, self._exited)
            self._workers[index] = worker
            try:
                await worker.start()
                failed: set[Key] = set()
                # Versions loaded while this one restarts are picked up too.
                while missing := [k for k in self._versions if k not in worker.loaded | failed]:
                    key = missing[0]
                    try:
                        await self._load_in(worker, key, self._versions[key])
                    except Unavailable:
                        raise
                    except Exception as e:  # the other workers go on serving it
                        log.error("worker %d could not reload %s version %d: %s", index, *key, e)
                        failed.add(key)
            except Unavailable as e:
                log.error("restarting TensorFlow worker %d failed: %s", index, e)
                continue
            worker.ready = True
            self._restart_count[index].inc()
            log.info("TensorFlow worker %d is back with %d versions", index, len(worker.loaded))
            return

    async def stop(self, timeout: float = 5.0) -> None:
        """Close every worker; one that has not exited within `timeout` is killed."""
        self._stopping = True
        for task in list(self._restarts):
            task.cancel()
        await asyncio.gather(*(w.stop(timeout) for w in self._workers), return_exceptions=True)

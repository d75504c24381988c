"""The TensorFlow workers of one front: every worker loads every version; requests go to the
least busy worker, large ones to a lane of their own; a worker that dies is started again,
reloaded and sent the routing table before it takes requests."""

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from service.front.metrics import Metrics
from service.front.workers.crashes import RequestCrashes
from service.front.workers.process import Key, WorkerProcess, WorkerSettings
from service.shared import channel
from service.shared.description import VersionDescription
from service.shared.errors import Unavailable, WorkerDied
from service.shared.options import RuntimeOptions
from service.shared.route import ModelRoute
from service.shared.settings import ServingSettings

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 0.5
MAX_RESTART_DELAY_SECONDS = 30.0
CALM_SECONDS = 30.0
"""A worker that dies this long after its previous death is restarted at once; one that dies
sooner waits RESTART_DELAY_SECONDS, doubled at each death, up to MAX_RESTART_DELAY_SECONDS."""

STARTING = "the server is starting: its models are still loading; try again shortly"

Outcome = tuple[dict[str, np.ndarray], float, float]
"""A call's outputs, when TensorFlow started it (monotonic clock) and how long it took."""

MAX_RESENDS = 3
"""Times a request goes to another worker because the one that had it died before starting it
(each time a different death: never a request that was running)."""


class WorkerPool:
    """Starts, feeds, restarts and stops the worker processes."""

    def __init__(
        self,
        count: int,
        settings: WorkerSettings,
        options: RuntimeOptions,
        metrics: Metrics,
        serving: ServingSettings | None = None,
        lane_bytes: int = 0,
    ) -> None:
        """`lane_bytes`: requests of this many bytes or more go to a worker of their own
        (one more process); 0: no lane."""
        self._settings = settings
        self._options = options
        # The lane serves large requests alone: TensorFlow's profiler (one port, shared by the
        # processes that serve on it) traces the workers that take the traffic, not the lane.
        self._lane_options = replace(options, profiler_port=0)
        self._serving = serving or ServingSettings()
        self.lane_bytes = lane_bytes
        lanes = [False] * count + ([True] if lane_bytes else [])
        self._workers = [
            WorkerProcess(i, settings, self._exited, lane) for i, lane in enumerate(lanes)
        ]
        self._calls = [metrics.worker_calls.labels(str(i)) for i in range(len(lanes))]
        self._restart_count = [metrics.worker_restarts.labels(str(i)) for i in range(len(lanes))]
        self._versions: dict[Key, Path] = {}
        """What every worker should hold: restarts reload it."""
        self._loading: set[Key] = set()
        """Versions whose load is under way in the workers."""
        self._routes: dict[str, ModelRoute] = {}
        """What every worker resolves requests with: restarts are sent it."""
        self._restarts: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._started = False
        self._deaths: dict[int, tuple[float, float]] = {}
        """Each worker's last death (event-loop time) and the delay its restart took."""
        self._last_used: dict[tuple[str, str], float] = {}
        self._clock = time.monotonic
        self.crashes: RequestCrashes | None = None
        """Told of each worker that died running a request."""

    @property
    def workers(self) -> list[WorkerProcess]:
        return list(self._workers)

    async def start(self) -> None:
        await asyncio.gather(*(self._start(w) for w in self._workers))
        for worker in self._workers:
            worker.ready = worker.complete = True
        self._started = True

    async def _start(self, worker: WorkerProcess) -> None:
        await worker.start()
        await worker.call(channel.CONFIGURE, self._serving)

    # -- versions and routes ------------------------------------------------------------------

    async def load(self, name: str, version: int, path: Path) -> VersionDescription:
        """Load a version in every running worker; if one fails, none keeps it."""
        key = (name, version)
        running = await self._running_workers()
        self._loading.add(key)
        try:
            answers = await asyncio.gather(
                *(self._load_in(w, key, path) for w in running), return_exceptions=True
            )
        finally:
            self._loading.discard(key)
        failures = [a for a in answers if isinstance(a, BaseException)]
        if failures:
            await self.unload(name, version)
            died = [f for f in failures if isinstance(f, WorkerDied)]
            raise (died or failures)[0]
        # Only now may a restarting worker reload it: never one whose load is in doubt.
        self._versions[key] = path
        return answers[0]

    async def _running_workers(self) -> list[WorkerProcess]:
        """The workers that take loads, waiting for restarting ones (a load placed during a
        restart is not a failed attempt)."""
        deadline = asyncio.get_running_loop().time() + self._settings.start_timeout_seconds
        while not (running := [w for w in self._workers if w.ready]):
            if self._stopping or asyncio.get_running_loop().time() > deadline:
                raise Unavailable("no TensorFlow worker is running")
            await asyncio.sleep(0.05)
        return running

    async def _load_in(self, worker: WorkerProcess, key: Key, path: Path) -> VersionDescription:
        try:
            description: VersionDescription = await worker.call(
                channel.LOAD, *key, str(path), self._lane_options if worker.lane else self._options
            )
        except WorkerDied:
            # Before the restart reloads what the workers hold: never this version again.
            self._versions.pop(key, None)
            raise
        if key in self._versions or key in self._loading:  # not unloaded meanwhile
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

    def route(self, name: str, route: ModelRoute | None) -> None:
        """Tell every worker which versions of `name` serve requests now (None: no longer
        served). Ordered with the requests on each channel: one sent before it resolves with
        the old table, one sent after with the new."""
        if route is None:
            self._routes.pop(name, None)
        else:
            self._routes[name] = route
        for worker in self._workers:
            self._send_route(worker, name)

    def _send_route(self, worker: WorkerProcess, name: str) -> None:
        """A model's route as one worker may serve it: only the versions it holds (a worker
        reloading after a restart serves what it has back while it loads the rest)."""
        route = self._routes.get(name)
        if route is not None:
            versions = tuple(v for v in route.versions if (name, v) in worker.loaded)
            route = ModelRoute(versions, route.labels)
        worker.send(channel.ROUTE, name, route)

    # -- calls --------------------------------------------------------------------------------

    def forward(self, kind: str, route: Any, body: Any, *rest: Any) -> "asyncio.Future[Any]":
        """Send a request's bytes to a worker; the future gets (code, body, extra, header)."""
        size = len(body)
        worker = self._pick_for(size)
        self._calls[worker.index].inc()
        if size >= channel.LARGE_BYTES:
            return worker.call_large(kind, route, channel.out_of_band(body), *rest)
        return worker.call(kind, route, body, *rest)

    def _pick_for(self, size: int) -> WorkerProcess:
        """The least busy worker that holds every version; one still reloading after a
        restart only when there is none; the lane for large requests, and for any while no
        other worker is ready."""
        best = None
        for worker in self._workers:
            if not worker.ready or worker.lane:
                continue
            if best is None or (worker.complete, -worker.outstanding) > (
                best.complete,
                -best.outstanding,
            ):
                best = worker
        if self.lane_bytes and (size >= self.lane_bytes or best is None or not best.complete):
            lane = self._workers[-1]
            if lane.ready and (lane.complete or best is None):
                return lane
        if best is None:
            if not self._started:
                raise Unavailable(STARTING)
            raise Unavailable(
                "no TensorFlow worker is running right now (one is restarting); try again"
            )
        return best

    def run(
        self,
        key: Key,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> "asyncio.Future[Outcome]":
        """A call whose arrays the front decoded (Classify, Regress)."""
        worker = self._pick(key)
        self._calls[worker.index].inc()
        return worker.call(channel.RUN, key, signature, inputs, outputs, deadline)

    async def compare(self, key: Key, base_dir: Path, base_version: int) -> bytes:
        answer: bytes = await self._pick(key).call(
            channel.COMPARE, *key, str(base_dir), base_version
        )
        return answer

    async def insight(self, key: Key, kind: str) -> list[bytes]:
        """Every running worker's share of a version's live insight, for the front to merge."""
        holding = [w for w in self._workers if w.ready and key in w.loaded]
        if not holding:
            raise Unavailable(f"no TensorFlow worker holds model {key[0]!r} version {key[1]}")
        return list(await asyncio.gather(*(w.call(channel.INSIGHT, kind, *key) for w in holding)))

    def versions(self) -> list[Key]:
        """The versions the workers hold."""
        return list(self._versions)

    def _pick(self, key: Key) -> WorkerProcess:
        holding = [w for w in self._workers if w.ready and key in w.loaded and not w.lane]
        holding = holding or [w for w in self._workers if w.ready and key in w.loaded]
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
        if worker.killed_by is not None and self.crashes is not None:
            self.crashes.died(*worker.killed_by, worker.how, worker.index)
        now = asyncio.get_running_loop().time()
        # A first death restarts at once; one soon after another waits, longer each time, so
        # that a worker that dies as it starts cannot spin.
        previous, delay = self._deaths.get(worker.index, (float("-inf"), 0.0))
        delay = 0.0 if now - previous > CALM_SECONDS else max(RESTART_DELAY_SECONDS, 2 * delay)
        delay = min(delay, MAX_RESTART_DELAY_SECONDS)
        self._deaths[worker.index] = (now, delay)
        task = asyncio.get_running_loop().create_task(
            self._restart(worker.index, worker.lane, delay)
        )
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    def used(self, model: str, version: str) -> None:
        """A request was answered by this version: restarts reload the busiest first."""
        self._last_used[(model, version)] = self._clock()

    async def _restart(self, index: int, lane: bool, delay: float) -> None:
        while not self._stopping:
            await asyncio.sleep(delay)
            delay = max(RESTART_DELAY_SECONDS, delay)
            worker = WorkerProcess(index, self._settings, self._exited, lane)
            self._workers[index] = worker
            try:
                await self._start(worker)
                await self._reload(worker)
            except Unavailable as e:
                log.error("restarting TensorFlow worker %d failed: %s", index, e)
                continue
            worker.ready = worker.complete = True
            self._restart_count[index].inc()
            log.info("TensorFlow worker %d is back with %d versions", index, len(worker.loaded))
            return

    async def _reload(self, worker: WorkerProcess) -> None:
        """Every version the workers hold, the most recently used first; the worker takes
        requests from the first one on, for the versions it has back."""
        for name in self._routes:
            self._send_route(worker, name)
        worker.ready = True
        failed: set[Key] = set()
        # Versions loaded while this one restarts are picked up too.
        while missing := [k for k in self._versions if k not in worker.loaded | failed]:
            key = max(missing, key=lambda k: self._last_used.get((k[0], str(k[1])), 0.0))
            try:
                await self._load_in(worker, key, self._versions[key])
            except Unavailable:
                raise
            except Exception as e:  # the other workers go on serving it
                log.error("worker %d could not reload %s version %d: %s", worker.index, *key, e)
                failed.add(key)
                continue
            self._send_route(worker, key[0])

    async def stop(self, timeout: float = 5.0) -> None:
        """Close every worker; one that has not exited within `timeout` is killed."""
        self._stopping = True
        for task in list(self._restarts):
            task.cancel()
        await asyncio.gather(*(w.stop(timeout) for w in self._workers), return_exceptions=True)

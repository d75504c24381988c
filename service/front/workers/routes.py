"""The routing table's publisher: follows the repository and tells every worker which versions
of each model serve requests and where its labels point."""

import asyncio
import threading
from collections.abc import Callable, Iterable

from service.front.workers.loaded import LoadedVersion
from service.front.workers.pool import WorkerPool
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.shared.route import ModelRoute


class RoutePublisher:
    """A RepositoryListener; its calls come on the repository's threads and are handed to the
    event loop, which owns the workers' channels."""

    def __init__(
        self,
        pool: WorkerPool,
        model_configs: Callable[[], Iterable[model_server_config_pb2.ModelConfig]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._pool = pool
        self._model_configs = model_configs
        self._loop = loop
        self._available: dict[str, set[int]] = {}
        self._labels: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def version_available(self, model: LoadedVersion) -> None:
        with self._lock:
            self._available.setdefault(model.name, set()).add(model.version)
            self._publish(model.name)

    def version_unavailable(self, name: str, version: int) -> None:
        with self._lock:
            self._available.get(name, set()).discard(version)
            self._publish(name)

    def models_configured(self, names: list[str]) -> None:
        with self._lock:
            self._labels = {c.name: dict(c.version_labels) for c in self._model_configs()}
            for name in set(self._available) | set(self._labels) | set(names):
                self._publish(name)

    def _publish(self, name: str) -> None:
        route = None
        if name in self._labels:
            versions = tuple(sorted(self._available.get(name, ())))
            route = ModelRoute(versions, dict(self._labels[name]))
        self._loop.call_soon_threadsafe(self._pool.route, name, route)

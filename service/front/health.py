"""grpc.health.v1 kept in step with the repository: per model name, and overall ("")."""

import asyncio

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]

from service.front.repository.manager import ModelManager
from service.front.workers.loaded import LoadedVersion

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthFollower:
    """A repository listener that sets each model's health, and the server's, as versions change.

    Repository events arrive on the repository's thread; the health servicer lives on the event
    loop, so updates are handed over to it.
    """

    def __init__(self, health: health_aio.HealthServicer, manager: ModelManager) -> None:
        self._health = health
        self._manager = manager
        self._loop = asyncio.get_running_loop()

    def _set(self, service: str, status: int) -> None:
        asyncio.run_coroutine_threadsafe(self._health.set(service, status), self._loop)

    def _refresh(self) -> None:
        unready = set(self._manager.unready_models())
        for name in self._manager.model_names():
            self._set(name, NOT_SERVING if name in unready else SERVING)
        self._set("", NOT_SERVING if unready else SERVING)

    def version_available(self, model: LoadedVersion) -> None:
        self._refresh()

    def version_unavailable(self, name: str, version: int) -> None:
        self._refresh()

    def models_configured(self, names: list[str]) -> None:
        self._refresh()

"""A version loaded in the workers, as the front holds it: its description and its calls."""

import asyncio
from pathlib import Path

import numpy as np

from service.front.workers.pool import Outcome, WorkerPool
from service.protos.blockserve.v1 import inspection_pb2
from service.shared.description import VersionDescription
from service.shared.facts import ExportFacts
from service.shared.signature import Signature


class LoadedVersion:
    """What the repository, the core and batching know of a loaded version; its TensorFlow
    objects live in the worker processes."""

    def __init__(
        self,
        pool: WorkerPool,
        description: VersionDescription,
        path: Path,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.name = description.name
        self.version = description.version
        self.path = path
        self.signatures: dict[str, Signature] = description.signatures()
        self.facts: ExportFacts = description.facts
        self.summary: inspection_pb2.ParameterSummary | None = description.parameter_summary()
        self.summary_problem = description.summary_problem
        self.load_seconds = description.load_seconds
        self.platform = description.platform
        self.looped_signatures = frozenset(description.looped_signatures)
        self._key = (self.name, self.version)
        self._pool = pool
        self._loop = loop

    def run(
        self,
        signature: str,
        inputs: dict[str, np.ndarray],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> "asyncio.Future[Outcome]":
        """One TensorFlow call of these rows, as they are: never merged with others here."""
        return self._pool.run(self._key, signature, inputs, outputs, deadline)

    async def compare(
        self, base_dir: Path, base_version: int
    ) -> inspection_pb2.ParameterComparison:
        answer = await self._pool.compare(self._key, base_dir, base_version)
        return inspection_pb2.ParameterComparison.FromString(answer)

    def close(self) -> None:
        """Unload from every worker. Called from the repository's thread once no request holds
        the version."""
        asyncio.run_coroutine_threadsafe(self._pool.unload(*self._key), self._loop).result()

"""Fixtures shared by the whole suite: exported seed models and the reference test data."""

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from service.front.metrics import Metrics
from service.front.workers.loaded import LoadedVersion
from service.front.workers.pool import WorkerPool
from service.front.workers.process import WorkerSettings
from service.shared.options import RuntimeOptions

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
TFSERVING_TESTDATA = ROOT.parent / "shared" / "testdata" / "tfserving"


def export(output_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the export script as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "models.export", "--output-dir", str(output_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All seed models exported once with seed 0, as version 1."""
    out = tmp_path_factory.mktemp("exported")
    result = export(out, "--seed", "0")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def tfserving_testdata() -> Path:
    assert TFSERVING_TESTDATA.is_dir(), f"missing {TFSERVING_TESTDATA}"
    return TFSERVING_TESTDATA


@contextlib.asynccontextmanager
async def worker_versions(
    exported: Path, names: Sequence[str], workers: int = 1
) -> AsyncIterator[tuple[WorkerPool, dict[str, LoadedVersion]]]:
    """A real pool of TensorFlow worker processes holding version 1 of each named seed model."""
    pool = WorkerPool(workers, WorkerSettings(), RuntimeOptions(), Metrics())
    await pool.start()
    try:
        loop = asyncio.get_running_loop()
        versions = {}
        for name in names:
            path = exported / name / "1"
            description = await pool.load(name, 1, path)
            versions[name] = LoadedVersion(pool, description, path, loop)
        yield pool, versions
    finally:
        await pool.stop()

"""Fixtures of the live insight tests: seed models exported and loaded in-process, as a worker
loads them.

`exported` and `tfserving_testdata` are this folder's own (not tests/conftest.py's), so these
tests need nothing of the server's processes and run on their own
(`pytest tests/insight --confcutdir=tests/insight`).
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.shared.options import RuntimeOptions
from service.worker.runtime.loader import open_version

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[2]
TFSERVING_TESTDATA = ROOT.parent / "shared" / "testdata" / "tfserving"
SEED_MODELS = "mlp,nest_mlp,fixed_hidden_mlp,chimera,param_net"


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed models live insight is tested on, exported with seed 0 as version 1."""
    out = tmp_path_factory.mktemp("insight-exported")
    result = subprocess.run(
        [sys.executable, "-m", "models.export", "--output-dir", str(out), "--models", SEED_MODELS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def tfserving_testdata() -> Path:
    assert TFSERVING_TESTDATA.is_dir(), f"missing {TFSERVING_TESTDATA}"
    return TFSERVING_TESTDATA


@pytest.fixture(scope="module")
def opened() -> Iterator[Callable]:
    """opened(path, name, version): a version loaded and warmed up as a worker loads it."""
    models: list = []

    def open_model(path: Path, name: str, version: int = 1):
        model = open_version(name, version, path, RuntimeOptions())
        models.append(model)
        return model

    yield open_model
    for model in models:
        model.close()

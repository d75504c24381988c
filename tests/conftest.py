"""Fixtures shared by the whole suite: exported seed models and the reference test data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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

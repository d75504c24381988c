"""The seed models as a benchmark serves them: exported into a temporary folder, or reused."""

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.servers import ROOT


def export_models(output_dir: Path) -> Path:
    """`python -m models.export --output-dir output_dir`: every seed model and models.config."""
    done = subprocess.run(
        [sys.executable, "-m", "models.export", "--output-dir", str(output_dir)],
        cwd=ROOT,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"models.export failed:\n{done.stderr[-4000:]}")
    return output_dir / "models.config"


@contextlib.contextmanager
def models_dir(reuse: Path | None) -> Iterator[Path]:
    """`reuse` if given (it must hold models.config), else a fresh export removed afterwards."""
    if reuse is not None:
        if not (reuse / "models.config").is_file():
            raise RuntimeError(f"{reuse} has no models.config; export with python -m models.export")
        yield reuse.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="blockserve-bench-") as scratch:
        folder = Path(scratch) / "models"
        print(f"exporting the seed models into {folder}", flush=True)
        export_models(folder)
        yield folder


def newest_version(models_dir: Path, name: str) -> Path:
    """The folder of `name`'s highest numeric version."""
    versions = [v for v in (models_dir / name).iterdir() if v.name.isdigit()]
    return max(versions, key=lambda v: int(v.name))

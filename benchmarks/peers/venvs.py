"""Each peer's own cached venv: created on first use, reused after, never the project's .venv.

A venv lives in CACHE/venvs/<peer> (CACHE defaults to ~/.cache/blockserve-bench) and counts as
installed when its `.installed` marker lists exactly the requirements asked for now; anything
else is built again from scratch with the project's base interpreter and pip. TensorFlow is
pinned to the project's own version, so every server loads the SavedModel with the same runtime.
"""

import importlib.metadata
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path.home() / ".cache" / "blockserve-bench"
MARKER = ".installed"
INSTALL_TIMEOUT = 3600.0


class PeerUnavailable(Exception):
    """A peer could not be installed or started; the message says why, in one line."""


@dataclass(frozen=True)
class PeerVenv:
    """The packages one peer needs, and where its venv lives."""

    name: str
    requirements: tuple[str, ...]

    def path(self, cache: Path) -> Path:
        return cache / "venvs" / self.name

    def python(self, cache: Path) -> Path:
        return self.path(cache) / "bin" / "python"

    def is_installed(self, cache: Path) -> bool:
        marker = self.path(cache) / MARKER
        return marker.is_file() and marker.read_text() == self._marker_text()

    def _marker_text(self) -> str:
        return "\n".join(self.requirements) + "\n"

    def ensure(self, cache: Path, install: bool, log: Path) -> Path:
        """The venv's folder, installing it first when allowed; PeerUnavailable otherwise."""
        if self.is_installed(cache):
            return self.path(cache)
        if not install:
            raise PeerUnavailable(f"no cached venv at {self.path(cache)}, and installing is off")
        folder = self.path(cache)
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        pip = [str(folder / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        steps = [
            [sys._base_executable, "-m", "venv", str(folder)],
            [*pip, "install", "--quiet", "--upgrade", "pip"],
            [*pip, "install", "--quiet", *self.requirements],
        ]
        with log.open("ab") as out:
            for step in steps:
                out.write(f"$ {' '.join(step)}\n".encode())
                out.flush()
                try:
                    done = subprocess.run(
                        step, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT
                    )
                except subprocess.TimeoutExpired:
                    raise PeerUnavailable(
                        f"installing {self.name} took over {INSTALL_TIMEOUT:.0f} s; see {log}"
                    ) from None
                if done.returncode != 0:
                    raise PeerUnavailable(
                        f"`{' '.join(step[2:5])} ...` exited {done.returncode}: "
                        f"{_last_line(log)} (full log: {log})"
                    )
        (folder / MARKER).write_text(self._marker_text())
        return folder


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def tensorflow_requirement() -> str:
    """The project's own TensorFlow, for a peer to load the SavedModel with the same runtime."""
    return f"tensorflow=={importlib.metadata.version('tensorflow')}"


MLSERVER = PeerVenv(
    "mlserver",
    (
        "mlserver==1.7.1",
        # MLServer 1.7.1's inference workers call asyncio.get_event_loop() before setting one,
        # which uvloop 0.22 and later refuse: every worker dies at start and is restarted forever.
        "uvloop<0.22",
        tensorflow_requirement(),
    ),
)
TRITON = PeerVenv("triton", ("nvidia-pytriton==0.7.0", tensorflow_requirement()))

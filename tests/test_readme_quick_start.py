"""The README's quick start, walked as a newcomer would: every command of its second block, run
by the shell against a real server of the exported seed models (on this test's ports)."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.service.conftest import HOST, SEED_MODELS, ServerProcess, write_model_config

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def quick_start_commands() -> list[str]:
    """The commands of the README's quick start that run against a server, comments dropped."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 2, "the quick start has no block of commands to try"
    commands = [line.split("  #")[0].strip() for line in blocks[1].splitlines()]
    return [c for c in commands if c]


def against(server: ServerProcess, command: str) -> str:
    """The command aimed at the test's server instead of 8500/8501."""
    command = command.replace("localhost:8501", f"{HOST}:{server.rest_port}")
    if "service.client" in command:
        command += f" --target {HOST}:{server.grpc_port}"
    return command


def test_every_quick_start_command_works_against_a_real_server(
    tmp_path: Path, exported: Path
) -> None:
    commands = quick_start_commands()
    assert any(c.startswith("curl") for c in commands)
    assert any("service.client" in c for c in commands)
    config = write_model_config(tmp_path / "models.config", {n: exported / n for n in SEED_MODELS})
    with ServerProcess([f"--model_config_file={config}"], tmp_path / "server.log") as server:
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", against(server, command)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
            assert done.stdout.strip(), f"{command} printed nothing"
            assert '"error"' not in done.stdout, f"{command}:\n{done.stdout}"
            assert "Traceback" not in done.stderr, f"{command}:\n{done.stderr}"

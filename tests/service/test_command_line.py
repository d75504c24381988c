"""`python -m service`: the flags it lists, and refusing at once to start on a bad flag or file."""

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.service.conftest import HOST, run_service

# Flags and the model config are checked before TensorFlow is imported: refusals are quick.
PROMPT_SECONDS = 10.0
# Files read once the server is built (after importing TensorFlow) take a few seconds more.
LATE_SECONDS = 45.0

# A case writes what it needs under a folder, and gives the arguments and the words the error
# message must contain.
Case = Callable[[Path], tuple[list[str], list[str]]]


def test_help_lists_tensorflow_model_server_flags() -> None:
    result = run_service("--help")
    assert result.returncode == 0, result.stderr
    for flag in (
        "--port",
        "--rest_api_port",
        "--model_name",
        "--model_base_path",
        "--model_config_file",
        "--model_config_file_poll_wait_seconds",
        "--file_system_poll_wait_seconds",
        "--enable_batching",
        "--max_request_bytes",
        "--shutdown_grace_seconds",
    ):
        assert flag in result.stdout, flag


def written(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def unknown_flag(tmp: Path) -> tuple[list[str], list[str]]:
    return ["--no_such_flag=1"], ["unrecognized arguments: --no_such_flag"]


def config_does_not_parse(tmp: Path) -> tuple[list[str], list[str]]:
    path = written(tmp, "models.config", "model_config_list { oops")
    return [f"--model_config_file={path}"], [str(path), "does not parse"]


def config_missing(tmp: Path) -> tuple[list[str], list[str]]:
    path = tmp / "missing.config"
    return [f"--model_config_file={path}"], [str(path), "cannot read model config"]


def config_names_a_model_twice(tmp: Path) -> tuple[list[str], list[str]]:
    text = (
        'model_config_list { config { name: "m" base_path: "/m" } '
        'config { name: "m" base_path: "/n" } }'
    )
    path = written(tmp, "models.config", text)
    return [f"--model_config_file={path}"], [str(path), "model names appear twice: m"]


def nothing_to_serve(tmp: Path) -> tuple[list[str], list[str]]:
    return [], ["nothing to serve"]


def port_out_of_range(tmp: Path) -> tuple[list[str], list[str]]:
    return ["--model_base_path=/m", "--port=70000"], ["--port must be a port number"]


@pytest.mark.parametrize(
    "case",
    [
        unknown_flag,
        config_does_not_parse,
        config_missing,
        config_names_a_model_twice,
        nothing_to_serve,
        port_out_of_range,
    ],
)
def test_bad_start_exits_at_once_naming_the_problem(tmp_path: Path, case: Case) -> None:
    args, words = case(tmp_path)
    started = time.monotonic()
    result = run_service(*args, timeout=PROMPT_SECONDS * 3)
    assert result.returncode == 2, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert time.monotonic() - started < PROMPT_SECONDS


@pytest.mark.slow
def test_bad_monitoring_config_stops_the_server_before_it_serves(
    tmp_path: Path, exported: Path
) -> None:
    path = written(tmp_path, "monitoring.config", "prometheus_config { enable: maybe }")
    result = run_service(
        f"--model_base_path={exported / 'mlp'}",
        "--port=0",
        "--rest_api_port=0",
        f"--monitoring_config_file={path}",
        timeout=LATE_SECONDS,
    )
    assert result.returncode == 2, result.stderr
    assert f"monitoring config {path} does not parse" in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--port", "--rest_api_port"])
def test_busy_port_stops_the_server_naming_the_address(
    tmp_path: Path, exported: Path, flag: str
) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "--rest_api_port" if flag == "--port" else "--port"
        result = run_service(
            f"--model_base_path={exported / 'mlp'}",
            f"--bind_address={HOST}",
            f"{flag}={port}",
            f"{other}=0",
            timeout=LATE_SECONDS,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen for {'gRPC' if flag == '--port' else 'REST'} on {HOST}:{port}" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr, result.stderr

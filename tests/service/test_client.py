"""The command-line client: ordinary mistakes are one line and exit status 2, not a traceback;
--help states the defaults."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.conftest import HOST, ROOT, ServerProcess


@pytest.fixture(scope="module")
def mlp_server(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("client")
    flags = ["--model_name=mlp", f"--model_base_path={exported / 'mlp'}"]
    with ServerProcess(flags, root / "server.log") as process:
        yield process


def client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.client", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    for word in words:
        assert word in line


def test_instances_that_are_not_json_are_one_line() -> None:
    # Refused before anything is sent: no server needed, and none at this port.
    result = client("predict", "mlp", "--instances", "notjson", "--target", f"{HOST}:1")
    assert_one_line_error(result, "--instances is not JSON")


def test_a_negative_row_count_is_one_line() -> None:
    result = client("predict", "mlp", "--random", "-1", "--target", f"{HOST}:1")
    assert_one_line_error(result, "--random", "-1")


def test_an_unknown_signature_is_one_line(mlp_server: ServerProcess) -> None:
    target = f"{HOST}:{mlp_server.grpc_port}"
    result = client("predict", "mlp", "--random", "1", "--signature", "nosuch", "--target", target)
    assert_one_line_error(result, "'nosuch'", "serving_default")


def test_instances_of_the_wrong_shape_for_the_dtype_are_one_line(
    mlp_server: ServerProcess,
) -> None:
    target = f"{HOST}:{mlp_server.grpc_port}"
    result = client("predict", "mlp", "--instances", '[[1, "a"]]', "--target", target)
    assert_one_line_error(result, "--instances", "'x'")


def test_a_good_call_still_answers(mlp_server: ServerProcess) -> None:
    target = f"{HOST}:{mlp_server.grpc_port}"
    result = client("predict", "mlp", "--random", "2", "--target", target)
    assert result.returncode == 0, result.stderr
    assert '"model": "mlp"' in result.stdout


def test_help_states_the_defaults() -> None:
    result = client("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "this many random rows (default 1)" in text
    assert "seed of the random rows (default 0)" in text
    assert "(default 30)" in text and "(default localhost:8500)" in text


def test_reference_writes_the_npz_beside_the_model(exported: Path, tmp_path: Path) -> None:
    import numpy as np

    version = tmp_path / "mlp" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(
        (exported / "mlp" / "1" / "saved_model.pb").read_bytes()
    )
    samples = tmp_path / "samples.npy"
    np.save(samples, np.random.default_rng(0).normal(size=(50, 20)).astype(np.float32))
    result = client("reference", str(version), "--samples", str(samples))
    assert result.returncode == 0, result.stderr
    written = version / "assets.extra" / "blockserve_reference.npz"
    assert result.stdout.strip() == f"wrote {written}: x [50, 20]"
    with np.load(written) as arrays:
        assert arrays.files == ["x"] and arrays["x"].shape == (50, 20)
    missing = client("reference", str(version))
    assert_one_line_error(missing, "--samples")

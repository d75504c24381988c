"""`python -m service.client --protocol v2` and `python -m service.loadgen --protocol v2`, run as
a user runs them, against the real server."""

import json
import subprocess
import sys

from tests.reliability.conftest import metric
from tests.service.conftest import HOST, ROOT, ServerProcess


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def target(server: ServerProcess) -> str:
    return f"--target={HOST}:{server.grpc_port}"


def test_v2_predict_answers_as_tensorflow_servings_predict(v2_server: ServerProcess) -> None:
    common = ("predict", "mlp", "--random", "3", "--seed", "5", target(v2_server))
    tfserving = run("service.client", *common)
    v2 = run("service.client", *common, "--protocol", "v2")
    assert tfserving.returncode == 0, tfserving.stderr
    assert v2.returncode == 0, v2.stderr
    ours, theirs = json.loads(v2.stdout), json.loads(tfserving.stdout)
    assert (ours["model"], ours["version"]) == ("mlp", 1)
    assert ours["outputs"] == theirs["outputs"]


def test_v2_metadata_and_status(v2_server: ServerProcess) -> None:
    metadata = run("service.client", "metadata", "typed", "--protocol", "v2", target(v2_server))
    assert metadata.returncode == 0, metadata.stderr
    assert "input  text: BYTES [-1]" in metadata.stdout
    assert "output half: FP16 [-1, 2]" in metadata.stdout
    status = run(
        "service.client", "status", "half_plus_two_tf1", "--label", "stable", "--protocol", "v2",
        target(v2_server),
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip() == "ready: yes; available versions: 123"


def test_v2_errors_come_back_with_their_code(v2_server: ServerProcess) -> None:
    missing = run("service.client", "metadata", "nope", "--protocol", "v2", target(v2_server))
    assert missing.returncode == 1
    assert "NOT_FOUND" in missing.stderr


def test_loadgen_drives_model_infer(v2_server: ServerProcess) -> None:
    labels = {"model": "mlp", "method": "model_infer", "protocol": "grpc", "code": "OK"}
    before = metric(v2_server, "blockserve_requests_total", **labels)
    result = run(
        "service.loadgen", "--model", "mlp", "--protocol", "v2", "--duration", "1",
        "--concurrency", "2", "--json", target(v2_server),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(result.stdout)
    assert report["ok"] > 0 and report["errors"] == {}
    assert metric(v2_server, "blockserve_requests_total", **labels) - before == report["ok"]

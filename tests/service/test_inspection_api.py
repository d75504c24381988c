"""Parameter summaries and comparisons through the server: gRPC, REST, metrics and the CLI."""

import subprocess
import sys

import grpc
import pytest

from service.protos.blockserve.v1 import inspection_pb2, inspection_pb2_grpc
from tests.conftest import ROOT, export
from tests.service import wire
from tests.service.conftest import ServerProcess, write_model_config

TOTALS = {  # model: (trainable, constant)
    "mlp": (7946, 0),
    "mlp_subclassed": (7946, 0),
    "my_sequential": (7946, 0),
    "fixed_hidden_mlp": (420, 400),
    "nest_mlp": (3952, 0),
    "chimera": (4712, 400),
    "param_net": (25, 0),
}


def stub(server: ServerProcess) -> inspection_pb2_grpc.ModelInspectionServiceStub:
    return inspection_pb2_grpc.ModelInspectionServiceStub(server.channel)


@pytest.mark.parametrize("model", list(TOTALS))
def test_grpc_summary_gives_the_seed_totals(server: ServerProcess, model: str) -> None:
    request = inspection_pb2.GetParameterSummaryRequest(model_spec=wire.model_spec(model))
    summary = stub(server).GetParameterSummary(request, timeout=30)
    trainable, constant = TOTALS[model]
    assert (summary.model, summary.version) == (model, 1)
    assert summary.trainable_parameters == trainable
    assert summary.constant_parameters == constant
    assert summary.non_trainable_parameters == 0
    assert summary.total_parameters == trainable + constant


def test_tf1_model_gets_a_summary(server: ServerProcess) -> None:
    request = inspection_pb2.GetParameterSummaryRequest(
        model_spec=wire.model_spec("half_plus_two_tf1", label="stable")
    )
    summary = stub(server).GetParameterSummary(request, timeout=30)
    assert summary.version == 123
    names = {v.name for layer in summary.layers for v in layer.variables}
    assert {"a", "b"} <= names


def test_rest_summary_has_the_documented_top_level_fields(server: ServerProcess) -> None:
    response = server.rest("GET", "/v1/models/chimera/versions/1/parameters")
    assert response.status == 200
    body = response.json()
    assert {
        "model",
        "version",
        "total_parameters",
        "trainable_parameters",
        "non_trainable_parameters",
        "constant_parameters",
        "layers",
    } <= set(body)
    assert body["trainable_parameters"] == "4712" and body["constant_parameters"] == "400"


def test_summary_of_unknown_model_is_not_found(server: ServerProcess) -> None:
    request = inspection_pb2.GetParameterSummaryRequest(model_spec=wire.model_spec("nope"))
    with pytest.raises(grpc.RpcError) as error:
        stub(server).GetParameterSummary(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert server.rest("GET", "/v1/models/nope/parameters").status == 404


def test_parameter_metrics_follow_the_summary(server: ServerProcess) -> None:
    text = server.rest("GET", "/metrics").body.decode()
    assert 'blockserve_model_parameters{kind="constant",model="chimera",version="1"} 400.0' in text
    assert "blockserve_parameter_l2_norm{" in text


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory):
    """mlp version 1 (seed 0) served, version 2 (seed 7) and 3 (seed 0 again) only on disk."""
    root = tmp_path_factory.mktemp("compare")
    base = root / "mlp"
    assert export(root, "--models", "mlp", "--version", "2", "--seed", "7").returncode == 0
    assert export(root, "--models", "mlp", "--version", "3", "--seed", "0").returncode == 0
    config = root / "models.config"
    write_model_config(config, {"mlp": base})
    flags = [f"--model_config_file={config}"]
    with ServerProcess(flags, root / "server.log") as server:
        yield server


def test_compare_with_itself_shows_no_change(two_versions: ServerProcess) -> None:
    response = two_versions.rest("GET", "/v1/models/mlp/parameters/compare?base=3")
    assert response.status == 200, response.body
    body = response.json()
    assert body["summary"]["changed"] == "0"
    assert all(v["max_abs_diff"] == 0 and v["cosine_similarity"] == 1 for v in body["variables"])


def test_compare_with_another_seed_shows_the_change(two_versions: ServerProcess) -> None:
    request = inspection_pb2.CompareParametersRequest(
        model_spec=wire.model_spec("mlp"), base_version=2
    )
    comparison = stub(two_versions).CompareParameters(request, timeout=30)
    assert comparison.version == 3 and comparison.base_version == 2
    kernels = [v for v in comparison.variables if v.path.endswith("kernel")]
    assert kernels and all(v.max_abs_diff > 0 and v.cosine_similarity < 0.99 for v in kernels)


def test_compare_with_a_missing_version_is_not_found(two_versions: ServerProcess) -> None:
    assert two_versions.rest("GET", "/v1/models/mlp/parameters/compare?base=9").status == 404
    assert two_versions.rest("GET", "/v1/models/mlp/parameters/compare").status == 400


def test_cli_prints_a_parameter_table(two_versions: ServerProcess) -> None:
    target = f"127.0.0.1:{two_versions.grpc_port}"
    result = subprocess.run(
        [sys.executable, "-m", "service.client", "parameters", "mlp", "--target", target],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Trainable params:" in result.stdout and "7,946" in result.stdout
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.client",
            "parameters",
            "mlp",
            "--compare",
            "2",
            "--target",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "version 3 against version 2" in result.stdout

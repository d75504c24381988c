"""tensorflow_model_server's flags and models, served by the real server: TF1 graphs deciding
shapes, TF Lite versions, gRPC on a UNIX socket, CORS, load retries, TensorFlow Serving's
messages."""

import http.client
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from tests.service.conftest import (
    CALL_TIMEOUT,
    HOST,
    ROOT,
    ServerProcess,
    run_service,
    write_model_config,
)
from tests.service.wire import (
    float_output,
    predict_request,
    status_request,
)

HALF_PLUS_TWO, HALF_PLUS_THREE = "half_plus_two", "half_plus_three"
TFLITE, TFLITE_SIGDEF = "half_plus_two_tflite", "half_plus_two_tflite_with_sigdef"
FOLDERS = {
    HALF_PLUS_TWO: "saved_model_half_plus_two_cpu",
    HALF_PLUS_THREE: "saved_model_half_plus_three",
    TFLITE: "saved_model_half_plus_two_tflite",
    TFLITE_SIGDEF: "saved_model_half_plus_two_tflite_with_sigdef",
}
END = get_model_status_pb2.ModelVersionStatus.END


@pytest.fixture(scope="module")
def socket_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # UNIX socket paths are short (108 bytes): pytest's temporary folders can be longer.
    folder = Path("/tmp") / f"blockserve-{time.monotonic_ns()}"
    folder.mkdir()
    yield folder / "grpc.sock"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def drop_in(
    tmp_path_factory: pytest.TempPathFactory, tfserving_testdata: Path, socket_path: Path
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("drop_in")
    models = {name: tfserving_testdata / folder for name, folder in FOLDERS.items()}
    config = write_model_config(root / "models.config", models)
    flags = [
        f"--model_config_file={config}",
        f"--grpc_socket_path={socket_path}",
        "--rest_api_enable_cors_support",
        "--prefer_tflite_model",
        "--num_tflite_pools=2",
        "--tensorflow_session_parallelism=1",
    ]
    with ServerProcess(flags, root / "server.log") as process:
        yield process


def predict_y(server: ServerProcess, model: str, x: np.ndarray) -> np.ndarray:
    request = predict_request(model, {"x": x.astype(np.float32)}, encoding="float_val")
    response = server.prediction.Predict(request, timeout=CALL_TIMEOUT)
    return float_output(response.outputs["y"])


def test_tf1_half_plus_two_answers_a_rank_1_x(drop_in: ServerProcess) -> None:
    y = predict_y(drop_in, HALF_PLUS_TWO, np.array([2.0]))
    assert y.shape == (1,) and y.tolist() == [3.0]


def test_rest_instances_of_scalars_answer_as_in_tensorflow_serving(drop_in: ServerProcess) -> None:
    response = drop_in.rest(
        "POST", f"/v1/models/{HALF_PLUS_TWO}:predict", {"instances": [2.0, 3.0, 4.0]}
    )
    assert response.status == 200, response.body
    assert response.json() == {"predictions": [3.0, 3.5, 4.0]}


def test_tf1_half_plus_three_loads_and_answers(drop_in: ServerProcess) -> None:
    assert predict_y(drop_in, HALF_PLUS_THREE, np.array([[2.0]])).tolist() == [[4.0]]


@pytest.mark.parametrize("model", [TFLITE, TFLITE_SIGDEF])
def test_tflite_versions_give_three_for_two(drop_in: ServerProcess, model: str) -> None:
    assert predict_y(drop_in, model, np.array([[2.0]])).tolist() == [[3.0]]
    metadata = drop_in.rest("GET", f"/v1/models/{model}/metadata").json()
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sorted(signature["inputs"]) == ["x"] and sorted(signature["outputs"]) == ["y"]


def test_v2_metadata_names_each_versions_format(drop_in: ServerProcess) -> None:
    platforms = {
        model: drop_in.rest("GET", f"/v2/models/{model}").json()["platform"]
        for model in (TFLITE, HALF_PLUS_THREE)
    }
    assert platforms == {TFLITE: "tensorflow_tflite", HALF_PLUS_THREE: "tensorflow_savedmodel"}


def test_tflite_weights_are_in_the_parameter_summary(drop_in: ServerProcess) -> None:
    response = drop_in.rest("GET", f"/v1/models/{TFLITE}/parameters")
    assert response.status == 200, response.body
    summary = response.json()
    paths = sorted(v["path"] for layer in summary["layers"] for v in layer["variables"])
    assert paths == ["a", "b"]


def test_grpc_answers_on_the_unix_socket_too(drop_in: ServerProcess, socket_path: Path) -> None:
    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_request(HALF_PLUS_TWO, {"x": np.array([[2.0]], np.float32)})
        response = stub.Predict(request, timeout=CALL_TIMEOUT)
    assert float_output(response.outputs["y"]).tolist() == [[3.0]]


def test_cors_lets_other_origins_call(drop_in: ServerProcess) -> None:
    connection = http.client.HTTPConnection(HOST, drop_in.rest_port, timeout=CALL_TIMEOUT)
    try:
        connection.request(
            "OPTIONS",
            f"/v1/models/{HALF_PLUS_TWO}:predict",
            headers={
                "Origin": "http://page.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        preflight = connection.getresponse()
        preflight.read()
        connection.request(
            "POST",
            f"/v1/models/{HALF_PLUS_TWO}:predict",
            body=json.dumps({"instances": [2.0]}),
            headers={"Origin": "http://page.example", "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    assert preflight.status == 204
    assert "POST" in preflight.getheader("Access-Control-Allow-Methods")
    assert preflight.getheader("Access-Control-Allow-Headers") == "content-type"
    assert answer.status == 200
    assert answer.getheader("Access-Control-Allow-Origin") == "*"


def test_unknown_model_says_servable_not_found(drop_in: ServerProcess) -> None:
    request = predict_request("no_such_model", {"x": np.array([[2.0]], np.float32)})
    with pytest.raises(grpc.RpcError) as raised:
        drop_in.prediction.Predict(request, timeout=CALL_TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details().startswith(
        "Servable not found for request: Latest(no_such_model)"
    )
    response = drop_in.rest(
        "POST", "/v1/models/no_such_model/versions/7:predict", {"instances": [1]}
    )
    assert response.status == 404
    assert response.json()["error"].startswith(
        "Servable not found for request: Specific(no_such_model, 7)"
    )


def test_a_model_config_that_does_not_parse_stops_the_server_in_tfservings_words(
    tfserving_testdata: Path,
) -> None:
    result = run_service(f"--model_config_file={tfserving_testdata / 'bad_model_config.txt'}")
    assert result.returncode == 2
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in result.stderr


def version_status(port: int, model: str) -> get_model_status_pb2.ModelVersionStatus | None:
    """The model's one version status, or None while the server does not answer."""
    with grpc.insecure_channel(f"{HOST}:{port}") as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        try:
            response = stub.GetModelStatus(status_request(model), timeout=5)
        except grpc.RpcError:
            return None
    return response.model_version_status[0] if response.model_version_status else None


def test_a_failed_load_is_retried_then_reported(tmp_path: Path, tfserving_testdata: Path) -> None:
    # bad_half_plus_two holds only TF1 SessionBundle files: give it a saved_model.pb that does
    # not parse, so that each attempt fails.
    base = tmp_path / "bad"
    shutil.copytree(tfserving_testdata / "bad_half_plus_two", base)
    (base / "00000123" / "saved_model.pb").write_bytes(b"not a SavedModel")
    config = write_model_config(tmp_path / "models.config", {"bad": base})
    server = ServerProcess(
        [
            f"--model_config_file={config}",
            "--max_num_load_retries=2",
            "--load_retry_interval_micros=200000",
            "--enable_grpc_healthcheck_service=false",
        ],
        tmp_path / "server.log",
    )
    with server.log_path.open("ab") as log:
        # Never ready (its one model cannot load), so not ServerProcess.start.
        server.process = subprocess.Popen(
            server.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and (status is None or status.state != END):
            time.sleep(0.2)
            status = version_status(server.grpc_port, "bad")
        assert status is not None and status.state == END, server.log_tail()
        assert "(tried 3 times)" in status.status.error_message, status.status.error_message
        assert server.log_tail().count("failed to load (attempt") == 3
        with grpc.insecure_channel(f"{HOST}:{server.grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            with pytest.raises(grpc.RpcError) as raised:
                health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        server.stop()


def test_list_models_gives_every_model_with_its_version_states(drop_in: ServerProcess) -> None:
    response = drop_in.rest("GET", "/v1/models")
    assert response.status == 200, response.body
    body = response.json()
    assert body["models"] == sorted(FOLDERS)
    for name in FOLDERS:
        assert body["model_version_status"][name] == [
            {
                "version": "123",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]


def test_list_models_takes_get_only(drop_in: ServerProcess) -> None:
    assert drop_in.rest("POST", "/v1/models", {}).status == 405

"""Behaviours TensorFlow Serving's own integration suite
(tensorflow_serving/model_servers/tensorflow_model_server_test.py) relies on, pinned against the
real server. docs/tfserving-suite.md says how to run that suite itself."""

import subprocess
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.service.conftest import CALL_TIMEOUT, HOST, ROOT, ServerProcess, write_model_config
from tests.service.wire import float_output, predict_request

pytestmark = pytest.mark.slow

PORT_TIMEOUT = 30.0
LOAD_TIMEOUT = 90.0


def missing_model_answer(
    stub: prediction_service_pb2_grpc.PredictionServiceStub,
) -> tuple[grpc.StatusCode, str]:
    """What the suite's WaitForServerReady sends: an empty Predict to a model nobody serves."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "intentionally_missing_model"
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, timeout=CALL_TIMEOUT)
    return error.value.code(), error.value.details()


def test_servable_not_found_is_only_said_once_the_models_have_loaded(
    tmp_path: Path, tfserving_testdata: Path
) -> None:
    """The suite takes "Servable" in a NOT_FOUND to mean the server is up, as
    tensorflow_model_server opens its ports only after its models load; while ours load, a
    request no version can answer yet is UNAVAILABLE."""
    config = write_model_config(
        tmp_path / "models.config",
        {"half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu"},
    )
    server = ServerProcess([f"--model_config_file={config}"], tmp_path / "server.log")
    # Started by hand: ServerProcess.start() waits for readiness, and the test is what comes
    # before it.
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            server.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    server.channel = channel = grpc.insecure_channel(
        f"{HOST}:{server.grpc_port}"
    )  # stop() closes it
    try:
        grpc.channel_ready_future(channel).result(timeout=PORT_TIMEOUT)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        answers = [missing_model_answer(stub)]
        deadline = time.monotonic() + LOAD_TIMEOUT
        while answers[-1][0] == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
            time.sleep(0.2)
            answers.append(missing_model_answer(stub))

        code, details = answers[0]
        assert code == grpc.StatusCode.UNAVAILABLE, server.log_tail()
        assert "Servable" not in details and "still loading" in details
        assert answers[-1] == (
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Latest(intentionally_missing_model): "
            "model 'intentionally_missing_model' is not served",
        ), server.log_tail()
        # The moment "Servable" is said, the configured model answers.
        request = predict_request("half_plus_two", {"x": np.array([[2.0]], np.float32)})
        response = stub.Predict(request, timeout=CALL_TIMEOUT)
        np.testing.assert_array_equal(float_output(response.outputs["y"]), [[3.0]])
    finally:
        server.stop()


def test_profiler_traces_live_requests_through_the_grpc_port(
    tmp_path: Path, tfserving_testdata: Path
) -> None:
    """profiler_client.trace against the gRPC address, as the suite's
    test_profiler_service_with_valid_trace_request does, writes a trace of the requests."""
    from tensorflow.python.profiler import profiler_client

    config = write_model_config(
        tmp_path / "models.config",
        {"half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu"},
    )
    logdir = tmp_path / "logs"
    logdir.mkdir()
    with ServerProcess([f"--model_config_file={config}"], tmp_path / "server.log") as server:
        request = predict_request("half_plus_two", {"x": np.array([[2.0]], np.float32)})
        traffic = threading.Thread(
            target=lambda: [
                server.prediction.Predict(request, timeout=CALL_TIMEOUT) for _ in range(50)
            ]
        )
        traffic.start()
        try:
            profiler_client.trace(f"{HOST}:{server.grpc_port}", str(logdir), 1000, "", 10)
        finally:
            traffic.join()
    assert list(logdir.glob("plugins/profile/*/*.xplane.pb")), list(logdir.rglob("*"))


def test_no_profiler_service_with_enable_profiler_false(
    tmp_path: Path, tfserving_testdata: Path
) -> None:
    config = write_model_config(
        tmp_path / "models.config",
        {"half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu"},
    )
    flags = [f"--model_config_file={config}", "--enable_profiler=false"]
    with ServerProcess(flags, tmp_path / "server.log") as server:
        monitor = server.channel.unary_unary("/tensorflow.ProfilerService/Monitor")
        with pytest.raises(grpc.RpcError) as error:
            monitor(b"", timeout=CALL_TIMEOUT)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED

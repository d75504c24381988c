"""Request logging on a real server: sampled calls become PredictionLog TFRecords that
TensorFlow reads and that replay as a version's warm-up; writing never fails a call."""

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import tensorflow as tf
from google.protobuf import text_format
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import (
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_pb2,
    prediction_log_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from service.requestlog.files import log_files
from service.requestlog.tfrecord import frame
from tests.requestlog.conftest import write_logging_config
from tests.service import wire
from tests.service.conftest import CALL_TIMEOUT, ROOT, ServerProcess, run_service

VERSION = 123
WARMUP = Path("assets.extra") / "tf_serving_warmup_requests"
AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE
CLASSIFY, REGRESS = "tensorflow/serving/classify", "tensorflow/serving/regress"
SAMPLED_RATE = 0.3
SAMPLED_CALLS = 200

pytestmark = pytest.mark.slow


def metric(server: ServerProcess, name: str, **labels: str) -> float:
    body = server.rest("GET", "/metrics").body.decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def wait_for_metric(server: ServerProcess, name: str, at_least: float, **labels: str) -> float:
    deadline = time.monotonic() + CALL_TIMEOUT
    while (value := metric(server, name, **labels)) < at_least:
        assert time.monotonic() < deadline, f"{name}{labels} stayed at {value} < {at_least}"
        time.sleep(0.05)
    return value


def settled(server: ServerProcess, name: str, **labels: str) -> float:
    """The metric's value once it has stopped changing (the writer thread has caught up)."""
    deadline = time.monotonic() + CALL_TIMEOUT
    value = metric(server, name, **labels)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        value, before = metric(server, name, **labels), value
        if value == before:
            return value
    raise AssertionError(f"{name}{labels} still changing after {CALL_TIMEOUT}s")


def read_log(prefix: str) -> list[prediction_log_pb2.PredictionLog]:
    """Every record under `prefix`, read by TensorFlow's own TFRecord reader."""
    files = log_files(prefix)
    assert files, f"no log files under {prefix}"
    return [
        prediction_log_pb2.PredictionLog.FromString(r.numpy())
        for f in files
        for r in tf.data.TFRecordDataset(str(f))
    ]


@dataclass(frozen=True)
class LoggedServer:
    server: ServerProcess
    prefix: str
    sampled_prefix: str
    rest_prefix: str
    calls: list[tuple[str, object, object]]
    """(log type, request, response) of the calls sent to the fully logged model."""


@pytest.fixture(scope="module")
def logged(
    tmp_path_factory: pytest.TempPathFactory, tfserving_testdata: Path
) -> Iterator[LoggedServer]:
    """A server whose half_plus_two logs every call, whose `sampled` logs 30% of them, and
    whose `unwritable` logs to a prefix under a regular file; each model sent its calls."""
    root = tmp_path_factory.mktemp("logged")
    base = root / "half_plus_two"
    shutil.copytree(tfserving_testdata / "saved_model_half_plus_two_cpu", base)
    (root / "a_file").write_text("not a folder")
    prefix, sampled = str(root / "logs" / "half_plus_two"), str(root / "logs" / "sampled")
    config = write_logging_config(
        root / "models.config",
        {
            "half_plus_two": (base, prefix, 1.0),
            "sampled": (base, sampled, SAMPLED_RATE),
            "unwritable": (base, str(root / "a_file" / "logs"), 1.0),
            "over_rest": (base, str(root / "logs" / "over_rest"), 1.0),
        },
    )
    with ServerProcess([f"--model_config_file={config}"], root / "server.log") as server:
        calls = send_each_kind(server, "half_plus_two")
        wait_for_metric(server, "blockserve_request_log_records_total", 4, model="half_plus_two")
        yield LoggedServer(server, prefix, sampled, str(root / "logs" / "over_rest"), calls)


def send_each_kind(server: ServerProcess, model: str) -> list[tuple[str, object, object]]:
    x = wire.example(x=2.0)
    predict = wire.predict_request(model, {"x": [[1.0], [2.0]]})
    classify = wire.classify_request(model, "classify_x_to_y", x)
    regress = wire.regress_request(model, "regress_x_to_y", x)
    multi = inference_pb2.MultiInferenceRequest(
        tasks=[
            inference_pb2.InferenceTask(
                model_spec=model_pb2.ModelSpec(name=model, signature_name="classify_x_to_y"),
                method_name=CLASSIFY,
            ),
            inference_pb2.InferenceTask(
                model_spec=model_pb2.ModelSpec(name=model, signature_name="regress_x_to_y"),
                method_name=REGRESS,
            ),
        ],
        input=wire.examples_input(x),
    )
    stub = server.prediction
    return [
        ("predict_log", predict, stub.Predict(predict, timeout=CALL_TIMEOUT)),
        ("classify_log", classify, stub.Classify(classify, timeout=CALL_TIMEOUT)),
        ("regress_log", regress, stub.Regress(regress, timeout=CALL_TIMEOUT)),
        ("multi_inference_log", multi, stub.MultiInference(multi, timeout=CALL_TIMEOUT)),
    ]


def test_every_kind_of_call_is_logged_as_tensorflow_serving_prediction_logs(
    logged: LoggedServer,
) -> None:
    entries = read_log(logged.prefix)
    assert [e.WhichOneof("log_type") for e in entries] == [kind for kind, _, _ in logged.calls]
    now = time.time()
    for entry, (kind, request, response) in zip(entries, logged.calls, strict=True):
        call = getattr(entry, kind)
        assert call.request == request
        assert call.response == response
        metadata = entry.log_metadata
        assert (metadata.model_spec.name, metadata.model_spec.version.value) == (
            "half_plus_two",
            VERSION,
        )
        assert metadata.sampling_config.sampling_rate == 1.0
        assert list(metadata.saved_model_tags) == ["serve"]
        assert now - 120 < metadata.timestamp_secs <= now


def test_a_sampling_rate_logs_that_share_of_calls(logged: LoggedServer) -> None:
    request = wire.predict_request("sampled", {"x": [[1.0]]})
    for _ in range(SAMPLED_CALLS):
        logged.server.prediction.Predict(request, timeout=CALL_TIMEOUT)
    written = settled(logged.server, "blockserve_request_log_records_total", model="sampled")
    # Binomial(200, 0.3): mean 60, standard deviation 6.5; these bounds are 4.6 of them away.
    assert 30 <= written <= 90
    assert len(read_log(logged.sampled_prefix)) == written


def test_a_log_that_cannot_be_written_costs_the_calls_nothing(logged: LoggedServer) -> None:
    calls = send_each_kind(logged.server, "unwritable")
    assert [r.model_spec.version.value for _, _, r in calls[:3]] == [VERSION] * 3
    dropped = wait_for_metric(
        logged.server, "blockserve_request_log_dropped_total", 4, model="unwritable"
    )
    assert dropped == 4
    assert metric(logged.server, "blockserve_request_log_records_total", model="unwritable") == 0


def test_rest_calls_are_logged_as_the_grpc_messages_they_stand_for(
    logged: LoggedServer,
) -> None:
    server = logged.server
    examples = {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}
    predict = server.rest("POST", "/v1/models/over_rest:predict", {"instances": [[1.0], [2.0]]})
    classify = server.rest("POST", "/v1/models/over_rest:classify", examples)
    examples["signature_name"] = "regress_x_to_y"
    regress = server.rest("POST", "/v1/models/over_rest:regress", examples)
    assert [r.status for r in (predict, classify, regress)] == [200] * 3
    wait_for_metric(server, "blockserve_request_log_records_total", 3, model="over_rest")
    entries = read_log(logged.rest_prefix)
    kinds = ["predict_log", "classify_log", "regress_log"]
    assert [e.WhichOneof("log_type") for e in entries] == kinds
    predicted, classified, regressed = (getattr(e, k) for e, k in zip(entries, kinds, strict=True))
    assert predicted.request.model_spec.signature_name == "serving_default"
    assert tf.make_ndarray(predicted.request.inputs["x"]).tolist() == [[1.0], [2.0]]
    assert tf.make_ndarray(predicted.response.outputs["y"]).tolist() == [[2.5], [3.0]]
    assert predicted.response.model_spec.version.value == VERSION
    request_example = classified.request.input.example_list.examples[0]
    assert request_example.features.feature["x"].float_list.value == [2.0]
    assert [c.score for c in classified.response.result.classifications[0].classes] == [3.0]
    assert [r.value for r in regressed.response.result.regressions] == [3.0]
    assert regressed.request.model_spec.signature_name == "regress_x_to_y"


def to_warmup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.requestlog", "to-warmup", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_log_replays_as_a_versions_warmup(
    logged: LoggedServer, tmp_path: Path, tfserving_testdata: Path, exported: Path
) -> None:
    replayed = tmp_path / "replayed"
    shutil.copytree(tfserving_testdata / "saved_model_half_plus_two_cpu", replayed)
    # The control: a version whose signatures the logged calls do not fit fails its warm-up,
    # so a version that loads has run the records rather than skipped them.
    mismatched = tmp_path / "mismatched"
    shutil.copytree(exported / "mlp" / "1", mismatched / "1")
    shutil.copytree(exported / "mlp" / "1", mismatched / "2")
    for version in (replayed / f"{VERSION:08d}", mismatched / "2"):
        result = to_warmup(
            "--prefix", logged.prefix, "--model", "half_plus_two", "--output", str(version / WARMUP)
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("wrote 4 warm-up records"), result.stdout
    records = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(str(replayed / f"{VERSION:08d}" / WARMUP))
    ]
    assert [r.WhichOneof("log_type") for r in records] == [k for k, _, _ in logged.calls]
    assert not any(getattr(r, r.WhichOneof("log_type")).HasField("response") for r in records)
    # MultiInference alone: its tasks name signatures mlp lacks, so replaying it must fail.
    multi_only = tmp_path / "multi_only"
    shutil.copytree(exported / "mlp" / "1", multi_only / "1")
    shutil.copytree(exported / "mlp" / "1", multi_only / "2")
    (multi_only / "2" / WARMUP).write_bytes(frame(records[-1].SerializeToString()))

    config = write_logging_config(
        tmp_path / "models.config",
        {
            "replayed": (replayed, "", 0.0),
            "mismatched": (mismatched, "", 0.0),
            "multi_only": (multi_only, "", 0.0),
        },
        all_versions={"mismatched", "multi_only"},
    )
    with ServerProcess([f"--model_config_file={config}"], tmp_path / "server.log") as server:
        status = {
            (name, s.version): s
            for name in ("replayed", "mismatched", "multi_only")
            for s in server.models.GetModelStatus(
                get_model_status_pb2.GetModelStatusRequest(model_spec=wire.model_spec(name)),
                timeout=CALL_TIMEOUT,
            ).model_version_status
        }
        replayed_status = status["replayed", VERSION]
        assert replayed_status.state == AVAILABLE, replayed_status.status.error_message
        assert status["mismatched", 1].state == AVAILABLE  # its own warm-up, from the export
        failed = status["mismatched", 2]
        assert failed.state != AVAILABLE
        assert "[2,1]" in failed.status.error_message  # the logged Predict's x, which mlp refuses
        multi_failed = status["multi_only", 2]
        assert multi_failed.state != AVAILABLE
        assert "classify_x_to_y" in multi_failed.status.error_message
        response = server.prediction.Predict(
            wire.predict_request("replayed", {"x": [[2.0]]}), timeout=CALL_TIMEOUT
        )
        assert wire.float_output(response.outputs["y"]).tolist() == [[3.0]]


def test_to_warmup_refuses_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a TFRecord file at all")
    result = to_warmup(str(tmp_path / "notes.txt"), "--output", str(tmp_path / "warmup"))
    assert result.returncode == 1
    assert "not a TFRecord file" in result.stderr


def reload(server: ServerProcess, config_path: Path) -> model_management_pb2.ReloadConfigResponse:
    config = text_format.Parse(config_path.read_text(), model_server_config_pb2.ModelServerConfig())
    request = model_management_pb2.ReloadConfigRequest(config=config)
    return server.models.HandleReloadConfigRequest(request, timeout=CALL_TIMEOUT)


def test_a_reloaded_config_turns_logging_on_and_off(
    tmp_path: Path, tfserving_testdata: Path
) -> None:
    base = tmp_path / "half_plus_two"
    shutil.copytree(tfserving_testdata / "saved_model_half_plus_two_cpu", base)
    prefix = str(tmp_path / "logs" / "half_plus_two")
    quiet = write_logging_config(tmp_path / "quiet.config", {"half_plus_two": (base, "", 0.0)})
    loud = write_logging_config(tmp_path / "loud.config", {"half_plus_two": (base, prefix, 1.0)})
    wrong = write_logging_config(tmp_path / "wrong.config", {"half_plus_two": (base, prefix, 2.0)})
    request = wire.predict_request("half_plus_two", {"x": [[1.0]]})
    with ServerProcess([f"--model_config_file={quiet}"], tmp_path / "server.log") as server:
        server.prediction.Predict(request, timeout=CALL_TIMEOUT)
        assert reload(server, loud).status.error_code == 0
        server.prediction.Predict(request, timeout=CALL_TIMEOUT)
        wait_for_metric(server, "blockserve_request_log_records_total", 1, model="half_plus_two")
        with pytest.raises(grpc.RpcError) as refused:
            reload(server, wrong)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "sampling_rate must be between 0 and 1, got 2.0" in refused.value.details()
        assert reload(server, quiet).status.error_code == 0
        server.prediction.Predict(request, timeout=CALL_TIMEOUT)
    assert len(read_log(prefix)) == 1  # the one call made while the config asked for it


@pytest.mark.parametrize(
    ("logging_config", "message"),
    [
        (
            'log_collector_config { filename_prefix: "/tmp/m" } '
            "sampling_config { sampling_rate: 1.5 }",
            "model 'm': sampling_rate must be between 0 and 1, got 1.5",
        ),
        (
            "sampling_config { sampling_rate: 1.0 }",
            "model 'm': logging_config needs log_collector_config.filename_prefix",
        ),
        (
            'log_collector_config { type: "kafka" filename_prefix: "/tmp/m" }',
            "model 'm': log_collector_config type 'kafka' is not known",
        ),
    ],
)
def test_a_logging_config_that_cannot_be_served_stops_the_server(
    tmp_path: Path, logging_config: str, message: str
) -> None:
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list { config { "
        f'name: "m" base_path: "{tmp_path}" logging_config {{ {logging_config} }} }} }}'
    )
    result = run_service(f"--model_config_file={config}")
    assert result.returncode != 0
    assert message in result.stderr, result.stderr

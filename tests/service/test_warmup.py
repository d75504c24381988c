"""Warm-up: recorded requests replay before a version serves; a failing warm-up never serves."""

import shutil
from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, prediction_log_pb2

from tests.service import wire
from tests.service.conftest import ServerProcess, write_model_config

WARMUP = Path("assets.extra") / "tf_serving_warmup_requests"
AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


def test_export_records_warmup_requests_that_tfserving_can_replay(exported: Path) -> None:
    records = list(tf.data.TFRecordDataset(str(exported / "mlp" / "1" / WARMUP)))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
    assert logs and all(log.WhichOneof("log_type") == "predict_log" for log in logs)
    assert all("x" in log.predict_log.request.inputs for log in logs)


def test_a_version_whose_warmup_fails_is_reported_and_never_serves(
    tmp_path: Path, exported: Path
) -> None:
    base = tmp_path / "param_net"
    shutil.copytree(exported / "param_net" / "1", base / "1")
    shutil.copytree(exported / "param_net" / "1", base / "2")
    entry = prediction_log_pb2.PredictionLog()
    entry.predict_log.request.inputs["not_an_input"].CopyFrom(tf.make_tensor_proto([[1.0]]))
    with tf.io.TFRecordWriter(str(base / "2" / WARMUP)) as writer:
        writer.write(entry.SerializeToString())
    config = write_model_config(tmp_path / "models.config", {"param_net": base})
    serve_all = 'model_platform: "tensorflow"\n  model_version_policy { all {} }'
    config.write_text(config.read_text().replace('model_platform: "tensorflow"', serve_all))
    with ServerProcess([f"--model_config_file={config}"], tmp_path / "server.log") as server:
        request = get_model_status_pb2.GetModelStatusRequest(
            model_spec=wire.model_spec("param_net")
        )
        statuses = {
            s.version: s for s in server.models.GetModelStatus(request).model_version_status
        }
        assert statuses[1].state == AVAILABLE
        assert statuses[2].state != AVAILABLE and statuses[2].status.error_code != 0
        assert "not_an_input" in statuses[2].status.error_message

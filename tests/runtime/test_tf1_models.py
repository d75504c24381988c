"""TF1 SavedModels run as TensorFlow Serving runs them: in a Session, the graph deciding shapes."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from service.protos.tensorflow.core.protobuf import config_pb2
from service.protos.tensorflow_serving.apis import predict_pb2, prediction_log_pb2
from service.shared.errors import ModelError
from service.shared.options import RuntimeOptions
from service.worker.runtime.graph_session import GraphSession
from service.worker.runtime.loader import open_version
from service.worker.runtime.model_version import ModelVersion
from service.worker.runtime.session_config import session_config
from service.worker.runtime.warmup import WARMUP_FILE

VERSION = 123


def version_dir(testdata: Path, model: str) -> Path:
    return testdata / model / f"{VERSION:08d}"


@pytest.fixture
def opened(tfserving_testdata: Path) -> Iterator:
    models: list = []

    def open_model(name: str, options: RuntimeOptions | None = None):
        path = version_dir(tfserving_testdata, name)
        model = open_version(name, VERSION, path, options or RuntimeOptions())
        models.append(model)
        return model

    yield open_model
    for model in models:
        model.close()


def x(*values: float, shape: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    array = np.array(values, np.float32)
    return {"x": array if shape is None else array.reshape(shape)}


def example(**features: float) -> bytes:
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                k: tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
                for k, v in features.items()
            }
        )
    ).SerializeToString()


def test_half_plus_three_loads_and_answers(opened) -> None:
    model = opened("saved_model_half_plus_three")
    assert isinstance(model._loaded, GraphSession)
    assert model.run("serving_default", x(2.0, shape=(1, 1)), ())["y"].tolist() == [[4.0]]


def test_half_plus_three_regresses_on_examples(opened) -> None:
    # Its SignatureDef calls the input float32; the graph's placeholder takes strings.
    model = opened("saved_model_half_plus_three")
    inputs = {"inputs": np.array([example(x=2.0)], dtype=object)}
    assert model.run("tensorflow/serving/regress", inputs, ())["outputs"].tolist() == [[4.0]]


def test_half_plus_two_answers_a_rank_1_x_as_the_graph_decides(opened) -> None:
    model = opened("saved_model_half_plus_two_cpu")
    assert model.signatures["serving_default"].inputs["x"].shape == (-1, 1)
    assert model.run("serving_default", x(2.0), ())["y"].tolist() == [3.0]
    assert model.run("serving_default", x(2.0, 3.0, 4.0), ())["y"].tolist() == [3.0, 3.5, 4.0]
    assert model.run("serving_default", x(1, 2, 5, shape=(3, 1)), ())["y"].tolist() == [
        [2.5],
        [3.0],
        [4.5],
    ]


def test_half_plus_two_classifies_and_regresses(opened) -> None:
    model = opened("saved_model_half_plus_two_cpu")
    inputs = {"inputs": np.array([example(x=2.0)], dtype=object)}
    assert model.run("classify_x_to_y", inputs, ())["scores"].tolist() == [[3.0]]
    assert model.run("regress_x_to_y", inputs, ())["outputs"].tolist() == [[3.0]]


def test_a_shape_the_graph_refuses_is_invalid_argument_with_its_message(opened) -> None:
    model = opened("saved_model_half_plus_two_cpu")
    inputs = {"inputs": np.array([b"not an example"], dtype=object)}
    with pytest.raises(ModelError) as raised:
        model.run("regress_x_to_y", inputs, ())
    assert raised.value.code == "INVALID_ARGUMENT"
    assert "Could not parse example input" in str(raised.value)


def test_tf2_savedmodels_still_load_as_functions(opened) -> None:
    model = opened("saved_model_half_plus_two_tf2_cpu")
    assert not isinstance(model._loaded, GraphSession)
    assert model.run("serving_default", x(2.0, shape=(1, 1)), ())["y"].tolist() == [[3.0]]


def test_tf1_parameters_are_summarized(opened) -> None:
    model = opened("saved_model_half_plus_three")
    assert model.summary is not None, model.summary_problem
    values = {v.path: v.mean for layer in model.summary.layers for v in layer.variables}
    assert values["a"] == 0.5 and values["b"] == 3.0


def test_the_session_gets_the_flags_config() -> None:
    wanted = config_pb2.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=3)
    options = RuntimeOptions(
        session_config=wanted.SerializeToString(),
        xla_cpu_compilation_enabled=True,
        mixed_precision="bfloat16",
    )
    config = session_config(options)
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (2, 3)
    assert config.graph_options.optimizer_options.global_jit_level == 1  # ON_1
    assert config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 == 1  # ON


def test_recorded_warmup_requests_run_as_many_times_as_asked(
    tmp_path: Path, tfserving_testdata: Path
) -> None:
    folder = tmp_path / "00000123"
    shutil.copytree(version_dir(tfserving_testdata, "saved_model_half_plus_two_cpu"), folder)
    request = predict_pb2.PredictRequest()
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([[2.0]], tf.float32))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    (folder / WARMUP_FILE).parent.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(folder / WARMUP_FILE)) as writer:
        writer.write(log.SerializeToString())
    options = RuntimeOptions(num_request_iterations_for_warmup=3)
    model = ModelVersion("m", VERSION, folder, options.saved_model_tags, options)
    calls = []
    run = model.run
    model.run = lambda *args: calls.append(args) or run(*args)  # type: ignore[method-assign]
    model.warm_up()
    model.close()
    assert len(calls) == 3

"""TF Lite versions served through TensorFlow's TF Lite interpreter, with ModelVersion's
interface: TensorFlow Serving's signatures, interpreter pools, and parameter summaries."""

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from service.front.repository.source import complete_versions
from service.inspection.parameters import ParameterKind
from service.shared.errors import InvalidArgument
from service.shared.options import RuntimeOptions
from service.worker.runtime.loader import open_version
from service.worker.runtime.model_version import ModelVersion
from service.worker.runtime.tflite import TfLiteVersion

VERSION = 123
MODELS = ("saved_model_half_plus_two_tflite", "saved_model_half_plus_two_tflite_with_sigdef")


def folder(testdata: Path, model: str) -> Path:
    return testdata / model / f"{VERSION:08d}"


def opened(testdata: Path, model: str, **options: object) -> TfLiteVersion:
    version = open_version(model, VERSION, folder(testdata, model), RuntimeOptions(**options))
    assert isinstance(version, TfLiteVersion)
    return version


def x(*values: float, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {"x": np.array(values, np.float32).reshape(shape)}


@pytest.mark.parametrize("model", MODELS)
def test_two_gives_three(tfserving_testdata: Path, model: str) -> None:
    version = opened(tfserving_testdata, model)
    try:
        assert version.run("serving_default", x(2.0, shape=(1, 1)), ())["y"].tolist() == [[3.0]]
    finally:
        version.close()


@pytest.mark.parametrize("model", MODELS)
def test_signature_is_tensorflow_servings(tfserving_testdata: Path, model: str) -> None:
    version = opened(tfserving_testdata, model)
    version.close()
    (signature,) = version.signatures.values()
    assert signature.name == "serving_default"
    assert signature.method_name == "tensorflow/serving/predict"
    assert list(signature.inputs) == ["x"] and list(signature.outputs) == ["y"]
    assert signature.inputs["x"].dtype == np.float32 and signature.inputs["x"].shape == (1, 1)


def test_a_signature_def_names_its_own_tensors(tfserving_testdata: Path) -> None:
    # The model's input tensor is `tflite_input`; its signature def calls it `x`.
    version = opened(tfserving_testdata, MODELS[1])
    version.close()
    assert version.signatures["serving_default"].definition.inputs["x"].name == "tflite_input:0"


def test_other_batch_sizes_resize_the_interpreter(tfserving_testdata: Path) -> None:
    version = opened(tfserving_testdata, MODELS[0])
    try:
        y = version.run("serving_default", x(1, 2, 5, shape=(3, 1)), ())["y"]
        assert y.tolist() == [[2.5], [3.0], [4.5]]
        assert version.run("serving_default", x(2.0, shape=(1, 1)), ())["y"].tolist() == [[3.0]]
    finally:
        version.close()


def test_rows_split_across_a_pools_interpreters_give_the_same_answer(
    tfserving_testdata: Path,
) -> None:
    version = opened(
        tfserving_testdata, MODELS[0], num_tflite_pools=2, num_tflite_interpreters_per_pool=3
    )
    rows = np.arange(10, dtype=np.float32).reshape(10, 1)
    try:
        answers: list[np.ndarray] = []

        def call() -> None:
            answers.append(version.run("serving_default", {"x": rows}, ())["y"])

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        version.close()
    assert len(answers) == 6
    for answer in answers:
        assert answer.tolist() == (rows * 0.5 + 2).tolist()


def test_wrong_dtype_is_invalid_argument_and_the_interpreter_goes_on(
    tfserving_testdata: Path,
) -> None:
    version = opened(tfserving_testdata, MODELS[0])
    try:
        with pytest.raises(InvalidArgument, match="FLOAT64"):
            version.run("serving_default", {"x": np.ones((2, 1), np.float64)}, ())
        assert version.run("serving_default", x(2.0, shape=(1, 1)), ())["y"].tolist() == [[3.0]]
    finally:
        version.close()


def test_weights_are_summarized_as_constants(tfserving_testdata: Path) -> None:
    version = opened(tfserving_testdata, MODELS[0])
    version.close()
    assert version.summary is not None, version.summary_problem
    variables = {v.path: v for layer in version.summary.layers for v in layer.variables}
    assert sorted(variables) == ["a", "b"]
    assert (variables["a"].mean, variables["b"].mean) == (0.5, 2.0)
    assert version.summary.constant_parameters == version.summary.total_parameters == 2
    assert version.parameters is not None
    assert {p.kind for p in version.parameters.parameters} == {ParameterKind.CONSTANT}
    assert str(version.parameters.parameters[0].source).startswith("tflite:tensor/")


def test_a_savedmodel_is_preferred_unless_told_otherwise(
    tmp_path: Path, tfserving_testdata: Path
) -> None:
    both = tmp_path / "both" / "1"
    shutil.copytree(folder(tfserving_testdata, "saved_model_half_plus_two_cpu"), both)
    shutil.copy(folder(tfserving_testdata, MODELS[0]) / "model.tflite", both)
    saved = open_version("m", 1, both, RuntimeOptions())
    lite = open_version("m", 1, both, RuntimeOptions(prefer_tflite_model=True))
    saved.close()
    lite.close()
    assert isinstance(saved, ModelVersion) and isinstance(lite, TfLiteVersion)


def test_a_folder_with_only_model_tflite_is_a_complete_version(tfserving_testdata: Path) -> None:
    base = tfserving_testdata / MODELS[0]
    assert complete_versions(base) == {VERSION: folder(tfserving_testdata, MODELS[0])}

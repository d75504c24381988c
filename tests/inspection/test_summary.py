"""Parameter summaries read from SavedModel files: counts, layer paths, statistics, any format."""

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from service.inspection import InspectionError, ParameterKind, kind_label, summarize, to_json
from service.protos.blockserve.v1 import inspection_pb2
from tests.inspection.conftest import SEED_TOTALS, KerasParameters
from tests.inspection.savedmodels import (
    export_keras,
    keras_with_batch_norm,
    save_module_model,
    save_tf1_model,
)

HALF_PLUS_TWO_TF1 = Path("saved_model_half_plus_two_cpu") / "00000123"
HALF_PLUS_TWO_TF2 = Path("saved_model_half_plus_two_tf2_cpu") / "00000123"


def variables_of(
    summary: inspection_pb2.ParameterSummary,
) -> dict[str, inspection_pb2.VariableSummary]:
    return {v.path: v for layer in summary.layers for v in layer.variables}


def assert_statistics_equal_numpy(v: inspection_pb2.VariableSummary, values: np.ndarray) -> None:
    x = np.asarray(values, dtype=np.float64)
    assert list(v.shape) == list(x.shape)
    assert v.count == x.size
    close = dict(rel=1e-12, abs=1e-15)
    assert v.min == x.min() and v.max == x.max()
    assert v.mean == pytest.approx(np.mean(x), **close)
    assert v.std == pytest.approx(np.std(x), **close)
    assert v.l2_norm == pytest.approx(np.linalg.norm(x), **close)
    assert v.zero_fraction == np.count_nonzero(x == 0) / x.size
    assert v.non_finite_count == 0
    counts, edges = np.histogram(x, bins=20)
    assert list(v.histogram.counts) == counts.tolist()
    np.testing.assert_allclose(v.histogram.edges, edges, rtol=1e-12)


@pytest.mark.parametrize("name", list(SEED_TOTALS))
def test_totals_by_kind_are_the_seed_models_parameter_counts(exported: Path, name: str) -> None:
    summary = summarize(exported / name / "1", name, 1)
    trainable, non_trainable, constant = SEED_TOTALS[name]
    assert (summary.model, summary.version) == (name, 1)
    assert summary.trainable_parameters == trainable
    assert summary.non_trainable_parameters == non_trainable
    assert summary.constant_parameters == constant
    assert summary.total_parameters == trainable + non_trainable + constant
    assert sum(layer.total_parameters for layer in summary.layers) == summary.total_parameters
    for layer in summary.layers:
        assert layer.total_parameters == sum(v.count for v in layer.variables)


@pytest.mark.parametrize("name", list(SEED_TOTALS))
def test_variable_paths_are_the_keras_block_paths(
    exported: Path, name: str, keras_parameters: Callable[..., KerasParameters]
) -> None:
    summary = summarize(exported / name / "1", name, 1)
    paths = [
        v.path for v in variables_of(summary).values() if v.kind != ParameterKind.CONSTANT.value
    ]
    assert sorted(paths) == sorted(keras_parameters(name).variables)


def test_chimera_parameters_nest_under_nest_mlp_and_its_sequential(exported: Path) -> None:
    summary = summarize(exported / "chimera" / "1", "chimera", 1)
    layers = [layer.path for layer in summary.layers]
    assert layers == [
        "chimera/nest_mlp/net/dense",
        "chimera/nest_mlp/net/dense_1",
        "chimera/nest_mlp/dense_2",
        "chimera/dense_3",
        "chimera/fixed_hidden_mlp",
        "chimera/fixed_hidden_mlp/dense_4",
    ]
    (constant,) = summary.layers[4].variables
    assert (constant.kind, constant.count) == (ParameterKind.CONSTANT.value, 400)


@pytest.mark.parametrize("name", list(SEED_TOTALS))
def test_statistics_equal_numpy_on_the_keras_weights(
    exported: Path, name: str, keras_parameters: Callable[..., KerasParameters]
) -> None:
    expected = keras_parameters(name)
    variables = variables_of(summarize(exported / name / "1", name, 1))
    for path, values in expected.variables.items():
        assert_statistics_equal_numpy(variables[path], values)
    constants = [v for v in variables.values() if v.kind == ParameterKind.CONSTANT.value]
    assert len(constants) == len(expected.constants)
    for v, values in zip(constants, expected.constants, strict=True):
        assert_statistics_equal_numpy(v, values)


@pytest.mark.parametrize("name", ["fixed_hidden_mlp", "chimera"])
def test_the_tf_constant_weight_is_a_constant_of_400_values(exported: Path, name: str) -> None:
    (constant,) = [
        v
        for v in variables_of(summarize(exported / name / "1", name, 1)).values()
        if v.kind == ParameterKind.CONSTANT.value
    ]
    assert constant.path.endswith("fixed_hidden_mlp/Const")
    assert (list(constant.shape), constant.dtype, constant.count) == ([20, 20], "float32", 400)
    assert constant.source == "graph:Const"


def test_each_weight_counts_once_although_the_export_saves_it_twice(exported: Path) -> None:
    # Keras 3's export checkpoints every weight under two keys; serving reads one of them.
    reader = tf.train.load_checkpoint(str(exported / "mlp" / "1" / "variables" / "variables"))
    weights = [k for k in reader.get_variable_to_shape_map() if k.endswith("VARIABLE_VALUE")]
    summary = summarize(exported / "mlp" / "1", "mlp", 1)
    sources = [v.source for v in variables_of(summary).values()]
    assert len(weights) == 2 * len(sources) == 8
    for source in sources:  # and each source names the tensor whose statistics are shown
        assert source.removeprefix("checkpoint:") in weights
    for v in variables_of(summary).values():
        assert_statistics_equal_numpy(v, reader.get_tensor(v.source.removeprefix("checkpoint:")))


def test_a_tf1_saved_model_is_summarized_from_its_variable_collections(
    tfserving_testdata: Path,
) -> None:
    path = tfserving_testdata / HALF_PLUS_TWO_TF1
    summary = summarize(path, "half_plus_two", 123)
    variables = variables_of(summary)
    assert list(variables) == ["a", "b", "c", "a2", "c2"]
    assert [layer.path for layer in summary.layers] == [""]
    reader = tf.train.load_checkpoint(str(path / "variables" / "variables"))
    for name, v in variables.items():
        assert (v.kind, v.dtype, list(v.shape)) == (ParameterKind.TRAINABLE.value, "float32", [])
        assert v.mean == v.min == v.max == reader.get_tensor(name)
    assert (summary.total_parameters, summary.trainable_parameters) == (5, 5)


def test_the_tf2_reference_model_variables_sit_at_their_attribute_paths(
    tfserving_testdata: Path,
) -> None:
    summary = summarize(tfserving_testdata / HALF_PLUS_TWO_TF2, "half_plus_two", 123)
    variables = variables_of(summary)
    assert {path: v.mean for path, v in variables.items()} == {"a": 0.5, "b": 2.0, "c": 3.0}
    assert summary.total_parameters == summary.trainable_parameters == 3


def test_module_variables_unread_by_serving_are_not_parameters(tmp_path: Path) -> None:
    summary = summarize(save_module_model(tmp_path / "net"), "net", 1)
    variables = variables_of(summary)
    # `unused` and the `step` counter are saved but no function reads them.
    assert sorted(variables) == sorted(
        ["gate", "Const", "encoder/w", "encoder/b"]
        + [f"blocks/{i}/{n}" for i in (0, 1) for n in ("w", "b")]
    )
    mix = variables["Const"]
    assert (mix.kind, mix.count, mix.mean) == (ParameterKind.CONSTANT.value, 4, 2.5)
    assert summary.trainable_parameters == 2 + 4 * 3 + 3 + 3 * 3 + 3 + 3 * 2 + 2


def test_tf1_initial_values_and_one_value_constants_are_not_parameters(tmp_path: Path) -> None:
    summary = summarize(save_tf1_model(tmp_path / "tf1"), "tf1", 1)
    variables = variables_of(summary)
    kinds = {path: kind_label(v.kind) for path, v in variables.items()}
    # The kernel's initial value is a Const too, and global_step a variable: neither counts.
    assert kinds == {
        "dense/kernel": "trainable",
        "dense/bias": "trainable",
        "norm/moving_mean": "non_trainable",
        "frozen": "constant",
    }
    assert variables["dense/kernel"].mean == 5.5
    assert (summary.trainable_parameters, summary.non_trainable_parameters) == (16, 2)
    assert summary.constant_parameters == 8


def test_keras_moving_statistics_are_non_trainable_under_their_layer(tmp_path: Path) -> None:
    model = keras_with_batch_norm()
    summary = summarize(export_keras(model, tmp_path / "cx"), "cx", 1)
    kinds = {path: v.kind for path, v in variables_of(summary).items()}
    # A functional model's own scope leads the path, as a Sequential's does in Keras.
    assert kinds == {
        f"cx/{v.path}": (
            ParameterKind.TRAINABLE.value if v.trainable else ParameterKind.NON_TRAINABLE.value
        )
        for v in model.variables
    }
    assert kinds["cx/batch_normalization/moving_mean"] == ParameterKind.NON_TRAINABLE.value
    assert summary.non_trainable_parameters == 6


def test_a_tag_set_the_saved_model_lacks_is_refused_naming_those_it_has(exported: Path) -> None:
    with pytest.raises(
        InspectionError, match=r"no meta graph tagged gpu,serve; its tag sets: serve"
    ):
        summarize(exported / "mlp" / "1", "mlp", 1, tags=("serve", "gpu"))


def test_a_folder_without_a_saved_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InspectionError, match=r"holds no saved_model\.pb"):
        summarize(tmp_path, "nothing", 1)


def test_json_form_has_every_top_level_field_even_when_zero(exported: Path) -> None:
    document = json.loads(to_json(summarize(exported / "mlp" / "1", "mlp", 1)))
    assert document["model"] == "mlp"
    assert document["version"] == "1"  # proto3 JSON writes int64 as a string
    assert document["total_parameters"] == document["trainable_parameters"] == "7946"
    assert document["non_trainable_parameters"] == document["constant_parameters"] == "0"
    bias = document["layers"][0]["variables"][1]
    assert bias["path"] == "mlp/dense/bias"
    assert bias["kind"] == "PARAMETER_KIND_TRAINABLE"
    assert bias["zero_fraction"] == 1.0 and bias["non_finite_count"] == "0"
    assert bias["shape"] == ["256"] and bias["std"] == 0.0


def test_summaries_of_the_seed_models_take_milliseconds(exported: Path) -> None:
    summarize(exported / "chimera" / "1", "chimera", 1)  # TensorFlow's first-use costs
    started = time.perf_counter()
    for _ in range(5):
        summarize(exported / "chimera" / "1", "chimera", 1)
    assert (time.perf_counter() - started) / 5 < 0.25, "generous: about 10 ms on a laptop"

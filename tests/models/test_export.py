"""The export script: layout, signatures, exactness, determinism, and refusal of bad arguments."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models.catalog import CATALOG, build
from tests.conftest import export

BATCHES = (1, 3, 64)


def serving_fn(path: Path):
    return tf.saved_model.load(str(path)).signatures["serving_default"]


def test_export_writes_every_model_in_tfserving_layout(exported: Path) -> None:
    for name in CATALOG:
        version = exported / name / "1"
        assert (version / "saved_model.pb").is_file()
        facts = json.loads((version / "assets.extra" / "blockserve.json").read_text())
        assert facts["rows_coupled"] == CATALOG[name].rows_coupled
        assert facts["loop_ends_on_non_finite"] == CATALOG[name].loop_ends_on_non_finite
    assert not [p for p in exported.rglob(".tmp-*")]
    config = (exported / "models.config").read_text()
    assert all(f'name: "{n}"' in config for n in CATALOG)


@pytest.mark.parametrize("name", list(CATALOG))
def test_signature_has_named_float_input_with_unknown_batch(exported: Path, name: str) -> None:
    fn = serving_fn(exported / name / "1")
    (spec,) = fn.structured_input_signature[1].values()
    assert spec.name == "x" and spec.dtype == tf.float32
    assert spec.shape.as_list() == [None, CATALOG[name].features]
    assert list(fn.structured_outputs) == ["y"]


@pytest.mark.parametrize("name", list(CATALOG))
def test_saved_model_equals_keras_model_bit_for_bit(exported: Path, name: str) -> None:
    fn = serving_fn(exported / name / "1")
    model = build(name, seed=0)
    call = tf.function(model)  # the export runs the graph too
    for rows in BATCHES:
        x = np.random.default_rng(rows).normal(size=(rows, CATALOG[name].features))
        x = tf.constant(x.astype(np.float32))
        np.testing.assert_array_equal(fn(x=x)["y"].numpy(), call(x).numpy())


def test_same_seed_same_outputs_other_seed_other_outputs(tmp_path: Path, exported: Path) -> None:
    assert export(tmp_path / "a", "--models", "chimera,mlp", "--seed", "0").returncode == 0
    assert export(tmp_path / "b", "--models", "chimera,mlp", "--seed", "7").returncode == 0
    x = tf.constant(np.random.default_rng(0).normal(size=(5, 20)).astype(np.float32))
    for name in ("chimera", "mlp"):
        ref = serving_fn(exported / name / "1")(x=x)["y"].numpy()
        again = serving_fn(tmp_path / "a" / name / "1")(x=x)["y"].numpy()
        other = serving_fn(tmp_path / "b" / name / "1")(x=x)["y"].numpy()
        np.testing.assert_array_equal(again, ref)
        assert not np.array_equal(other, ref)


def test_export_prints_a_summary_per_model(tmp_path: Path) -> None:
    result = export(tmp_path, "--models", "fixed_hidden_mlp", "--version", "4")
    assert result.returncode == 0, result.stderr
    assert "Model: fixed_hidden_mlp  version 4" in result.stdout
    assert "Trainable params:          420" in result.stdout
    assert "Constant params:           400" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "mlp,nope"], "unknown model nope"),
        (["--models", "mlp", "--version", "1"], "exists already"),
        (["--models", "mlp", "--version", "0"], "positive integer"),
    ],
)
def test_bad_arguments_fail_clearly_and_write_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "mlp" / "1").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    result = export(tmp_path, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_unwritable_folder_fails_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = export(blocker / "models", "--models", "mlp")
    assert result.returncode != 0
    assert "cannot create" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]

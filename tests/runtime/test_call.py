"""The direct signature call: the same answers as TensorFlow's own call, bit for bit."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from service.worker.runtime.call import _direct_call, signature_call


def saved_models(exported: Path, testdata: Path) -> list[Path]:
    return [
        exported / "mlp" / "1",
        exported / "chimera" / "1",
        testdata / "saved_model_half_plus_two_cpu" / "00000123",
        testdata / "saved_model_half_plus_two_tf2_cpu" / "00000123",
    ]


def test_every_signature_of_tf1_and_tf2_models_takes_the_direct_path(
    exported: Path, tfserving_testdata: Path
) -> None:
    for path in saved_models(exported, tfserving_testdata):
        for name, fn in tf.saved_model.load(str(path)).signatures.items():
            assert _direct_call(fn) is not None, f"{path} {name}"


@pytest.mark.parametrize("model", ["mlp", "chimera", "param_net", "nest_mlp"])
def test_direct_call_equals_tensorflows_call(exported: Path, model: str) -> None:
    fn = tf.saved_model.load(str(exported / model / "1")).signatures["serving_default"]
    features = fn.structured_input_signature[1]["x"].shape[1]
    call = signature_call(fn)
    for rows in (1, 7, 64):
        x = np.random.default_rng(rows).normal(size=(rows, features)).astype(np.float32)
        expected = fn(x=tf.constant(x))
        got = call({"x": x})
        assert set(got) == set(expected)
        for key in expected:
            np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy())


def test_several_outputs_keep_their_names(tmp_path: Path) -> None:
    class TwoOutputs(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.float32, name="b"),
                tf.TensorSpec([None], tf.float32, name="a"),
            ]
        )
        def serve(self, b: tf.Tensor, a: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"zeta": a - b, "alpha": a + 10 * b}

    module = TwoOutputs()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
    fn = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    got = signature_call(fn)({"a": np.array([1.0], np.float32), "b": np.array([2.0], np.float32)})
    assert float(got["zeta"][0]) == -1.0
    assert float(got["alpha"][0]) == 21.0


def test_composite_outputs_take_tensorflows_own_call(tmp_path: Path) -> None:
    class Ragged(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="n")])
        def serve(self, n: tf.Tensor) -> dict[str, tf.RaggedTensor]:
            return {"r": tf.ragged.range(n)}

    module = Ragged()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
    fn = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    assert _direct_call(fn) is None
    got = signature_call(fn)({"n": np.array([2, 3], np.int64)})
    assert got["r"].to_list() == [[0, 1], [0, 1, 2]]


def test_an_op_failing_inside_the_direct_call_raises_tensorflows_own_error(
    tmp_path: Path,
) -> None:
    from tests.reliability.savedmodels import OVERFLOW_INPUT, write_overflowing

    fn = tf.saved_model.load(str(write_overflowing(tmp_path / "1"))).signatures["serving_default"]
    call = _direct_call(fn)
    assert call is not None
    with pytest.raises(tf.errors.InvalidArgumentError, match="an activation is infinite"):
        call({"x": OVERFLOW_INPUT})

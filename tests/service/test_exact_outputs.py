"""Every seed model answers over the wire, bit for bit, what its SavedModel computes in-process."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models.catalog import CATALOG
from tests.service.conftest import CALL_TIMEOUT, SEED_MODELS, ServerProcess
from tests.service.wire import float_output, predict_request

BATCHES = (1, 3, 64)


def inputs(name: str, rows: int) -> np.ndarray:
    # Wide values, negatives and tiny magnitudes: a lossy float path would show.
    rng = np.random.default_rng(rows)
    x = rng.normal(scale=10.0, size=(rows, CATALOG[name].features)) * rng.choice(
        [1e-6, 1.0, 1e3], size=(rows, 1)
    )
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def expected(exported: Path) -> dict[tuple[str, int], np.ndarray]:
    """What each SavedModel computes in this process, by (model, rows)."""
    answers = {}
    for name in SEED_MODELS:
        fn = tf.saved_model.load(str(exported / name / "1")).signatures["serving_default"]
        for rows in BATCHES:
            answers[name, rows] = fn(x=tf.constant(inputs(name, rows)))["y"].numpy()
    return answers


@pytest.mark.parametrize("encoding", ["tensor_content", "float_val"])
@pytest.mark.parametrize("name", SEED_MODELS)
def test_grpc_predict_equals_saved_model_bit_for_bit(
    server: ServerProcess, expected: dict, name: str, encoding: str
) -> None:
    for rows in BATCHES:
        request = predict_request(name, {"x": inputs(name, rows)}, encoding=encoding)
        response = server.prediction.Predict(request, timeout=CALL_TIMEOUT)
        assert list(response.outputs) == ["y"]
        got = float_output(response.outputs["y"])
        assert got.shape == expected[name, rows].shape, rows
        np.testing.assert_array_equal(got, expected[name, rows], err_msg=f"{rows} rows")


@pytest.mark.parametrize("body_format", ["instances", "inputs"])
@pytest.mark.parametrize("name", SEED_MODELS)
def test_rest_predict_float32_survives_json_round_trip(
    server: ServerProcess, expected: dict, name: str, body_format: str
) -> None:
    for rows in BATCHES:
        x = inputs(name, rows)
        # Python writes each float32 (widened exactly to float64) as its shortest repr.
        body = (
            {"instances": x.tolist()}
            if body_format == "instances"
            else {"inputs": {"x": x.tolist()}}
        )
        response = server.rest("POST", f"/v1/models/{name}:predict", json.dumps(body))
        assert response.status == 200, response.body
        key = "predictions" if body_format == "instances" else "outputs"
        got = np.asarray(response.json()[key], dtype=np.float64)
        np.testing.assert_array_equal(got.astype(np.float32), expected[name, rows])
        # The text itself names float32 values: widening them back to float64 changes nothing.
        np.testing.assert_array_equal(got, got.astype(np.float32).astype(np.float64))

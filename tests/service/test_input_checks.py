"""The early input checks: what protects the process stays; shapes are the graph's to judge."""

import numpy as np
import pytest

from service.protos.tensorflow.core.protobuf import meta_graph_pb2
from service.shared.errors import InvalidArgument
from service.shared.facts import ExportFacts
from service.shared.signature import Signature, TensorSpec
from service.shared.validation import check_inputs, fits_declared_shapes

X = TensorSpec("x", 1, np.dtype(np.float32), (-1, 1))
SIGNATURE = Signature(
    "serving_default", "tensorflow/serving/predict", {"x": X}, {}, meta_graph_pb2.SignatureDef()
)


DEFAULT_FACTS = ExportFacts()


def check(x: np.ndarray, facts: ExportFacts = DEFAULT_FACTS, max_rows: int = 100) -> None:
    check_inputs("m", SIGNATURE, {"x": x}, facts, max_rows)


@pytest.mark.parametrize("shape", [(1,), (3,), (2, 1), (2, 5), (1, 1, 1)])
def test_any_shape_goes_to_the_graph(shape: tuple[int, ...]) -> None:
    check(np.ones(shape, np.float32))


def test_dtype_is_still_checked() -> None:
    with pytest.raises(InvalidArgument, match="is float64"):
        check(np.ones((1, 1), np.float64))


def test_row_limit_is_still_checked() -> None:
    with pytest.raises(InvalidArgument, match="at most 100 per request"):
        check(np.ones((101,), np.float32))


def test_non_finite_input_to_a_loop_model_is_still_refused() -> None:
    with pytest.raises(InvalidArgument, match="NaN or infinity"):
        check(np.array([np.nan], np.float32), ExportFacts(loop_ends_on_non_finite=False))


def test_names_are_still_checked() -> None:
    with pytest.raises(InvalidArgument, match="unknown"):
        check_inputs(
            "m", SIGNATURE, {"x": np.ones(1, np.float32), "z": np.ones(1)}, ExportFacts(), 9
        )


@pytest.mark.parametrize(
    ("shape", "fits"), [((2, 1), True), ((0, 1), True), ((2,), False), ((2, 2), False)]
)
def test_only_declared_shapes_may_share_a_batch(shape: tuple[int, ...], fits: bool) -> None:
    assert fits_declared_shapes(SIGNATURE, {"x": np.ones(shape, np.float32)}) is fits

"""The seed's blocks: architecture, parameter counts, and the fixed-hidden loop's semantics."""

import numpy as np
import pytest
import tensorflow as tf

from models.catalog import CATALOG, build
from models.export import count_parameters
from models.fixed_hidden import halve_until_small


@pytest.mark.parametrize("name", ["mlp", "mlp_subclassed", "my_sequential"])
def test_three_mlp_builds_share_one_architecture(name: str) -> None:
    model = build(name, seed=0)
    kernels = [tuple(w.shape) for w in model.weights]
    assert kernels == [(20, 256), (256,), (256, 10), (10,)]
    assert count_parameters(model).trainable == 7946
    assert model(tf.zeros((3, 20))).shape == (3, 10)


@pytest.mark.parametrize(
    ("name", "trainable", "constant"),
    [
        ("mlp", 7946, 0),
        ("fixed_hidden_mlp", 420, 400),
        ("nest_mlp", 3952, 0),
        ("chimera", 4712, 400),
        ("param_net", 25, 0),
    ],
)
def test_parameter_counts_match_the_seed(name: str, trainable: int, constant: int) -> None:
    counts = count_parameters(build(name, seed=0))
    assert (counts.trainable, counts.non_trainable, counts.constant) == (trainable, 0, constant)


def seed_formula(x: np.ndarray, w: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.float32:
    """The seed's FixedHiddenMLP.call, line by line, in NumPy float32."""
    h = np.maximum(x.reshape(len(x), -1) @ w + np.float32(1), 0)
    h = np.maximum(h @ kernel + bias, 0)
    while np.abs(h).sum(dtype=np.float32) > 1:
        h = h / np.float32(2)
    return h.sum(dtype=np.float32)


@pytest.mark.parametrize("rows", [1, 3, 64])
def test_fixed_hidden_mlp_matches_the_seed_formula(rows: int) -> None:
    model = build("fixed_hidden_mlp", seed=3)
    x = np.random.default_rng(rows).uniform(size=(rows, 20)).astype(np.float32)
    kernel, bias = (w.numpy() for w in model.dense.weights)
    expected = seed_formula(x, model.rand_weight.numpy(), kernel, bias)
    got = model(x).numpy()
    assert got.shape == ()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_fixed_hidden_mlp_output_of_large_input_lies_in_half_open_unit() -> None:
    model = build("fixed_hidden_mlp", seed=0)
    for scale in (1e2, 1e4, 1e6):
        x = np.random.default_rng(1).uniform(size=(8, 20)).astype(np.float32) * scale
        assert 0.5 < float(model(x)) <= 1.0


def test_loop_halves_exactly_like_the_python_while() -> None:
    x = np.array([[3.0, -5.0, 0.25]], np.float32)
    expected = x.copy()
    while np.abs(expected).sum() > 1:
        expected /= 2
    np.testing.assert_array_equal(halve_until_small(tf.constant(x)).numpy(), expected)


def test_loop_ends_when_only_the_sum_overflows() -> None:
    x = tf.fill((1, 20), np.float32(3e38))  # every element finite, their sum infinite
    assert np.isfinite(tf.reduce_sum(halve_until_small(x)).numpy())


def test_loop_refuses_infinite_activation_instead_of_spinning() -> None:
    x = tf.constant([[np.inf, 1.0]], tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="never ends"):
        halve_until_small(x)


def test_loop_ends_at_once_on_nan_as_the_seed_does() -> None:
    x = tf.constant([[np.nan, np.inf]], tf.float32)
    assert np.isnan(halve_until_small(x).numpy()[0, 0])


def test_catalog_says_which_models_couple_rows() -> None:
    coupled = {n for n, m in CATALOG.items() if m.rows_coupled}
    assert coupled == {"fixed_hidden_mlp", "chimera"}
    assert {n for n, m in CATALOG.items() if not m.loop_ends_on_non_finite} == coupled

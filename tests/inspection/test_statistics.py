"""Statistics of one tensor and differences of two, against NumPy, chunk by chunk."""

import math

import numpy as np
import pytest

from service.inspection.statistics import describe, difference


def random_values(size: int = 1000, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=size).astype(np.float32)
    values[::10] = 0
    return values


def test_statistics_equal_numpy() -> None:
    values = random_values()
    x = values.astype(np.float64)
    stats = describe(values.reshape(20, 50))
    assert (stats.count, stats.min, stats.max) == (1000, x.min(), x.max())
    assert stats.mean == pytest.approx(x.mean(), rel=1e-12)
    assert stats.std == pytest.approx(x.std(), rel=1e-12)
    assert stats.l2_norm == pytest.approx(np.linalg.norm(x), rel=1e-12)
    assert stats.zero_fraction == 0.1
    counts, edges = np.histogram(x, bins=20)
    assert stats.histogram.counts == tuple(counts)
    np.testing.assert_allclose(stats.histogram.edges, edges, rtol=1e-12)


def test_chunked_statistics_equal_one_pass_statistics() -> None:
    values = random_values(size=1001)
    whole, chunked = describe(values), describe(values, chunk=7)
    for field in ("min", "max", "mean", "std", "l2_norm", "zero_fraction"):
        assert getattr(chunked, field) == pytest.approx(getattr(whole, field), rel=1e-12)
    assert chunked.histogram == whole.histogram


def test_non_finite_values_are_counted_and_left_out_of_the_statistics() -> None:
    values = np.array([1.0, np.nan, 3.0, np.inf, -np.inf, 0.0], dtype=np.float32)
    stats = describe(values)
    assert stats.non_finite_count == 3
    assert (stats.min, stats.max, stats.mean) == (0.0, 3.0, pytest.approx(4 / 3))
    assert stats.zero_fraction == pytest.approx(1 / 6)
    assert sum(stats.histogram.counts) == 3


def test_equal_values_spread_their_histogram_as_numpy_does() -> None:
    stats = describe(np.full((4, 4), 2.0, dtype=np.float32))
    counts, edges = np.histogram(np.full(16, 2.0), bins=20)
    assert stats.histogram.counts == tuple(counts)
    np.testing.assert_allclose(stats.histogram.edges, edges)
    assert (stats.std, stats.min, stats.max) == (0.0, 2.0, 2.0)


def test_a_tensor_without_finite_values_has_nan_statistics_and_no_histogram() -> None:
    for values, zero_fraction in ((np.zeros((0, 3)), math.nan), (np.full(3, np.nan), 0.0)):
        stats = describe(values)
        assert all(math.isnan(x) for x in (stats.min, stats.max, stats.mean, stats.std))
        assert stats.histogram.edges == stats.histogram.counts == ()
        assert stats.zero_fraction == zero_fraction or math.isnan(zero_fraction)


def test_integer_and_half_precision_values_are_described_in_float64() -> None:
    ints = np.arange(-5, 6, dtype=np.int64)
    assert describe(ints).mean == 0.0 and describe(ints).l2_norm == pytest.approx(np.sqrt(110))
    halves = np.array([0.5, 1.5], dtype=np.float16)
    assert describe(halves).mean == 1.0


def test_identical_tensors_show_no_difference() -> None:
    values = random_values()
    same = difference(values, values.copy())
    assert (same.max_abs_diff, same.l2_diff, same.cosine_similarity) == (0.0, 0.0, 1.0)
    assert not same.changed and same.relative_l2_diff == 0.0
    with_nan = np.array([np.nan, 1.0])
    assert not difference(with_nan, with_nan.copy()).changed


def test_differences_equal_numpy() -> None:
    a, b = random_values(seed=1).astype(np.float64), random_values(seed=2).astype(np.float64)
    change = difference(a, b, chunk=64)
    assert change.changed
    assert change.base_l2_norm == pytest.approx(np.linalg.norm(a), rel=1e-12)
    assert change.l2_norm == pytest.approx(np.linalg.norm(b), rel=1e-12)
    assert change.l2_diff == pytest.approx(np.linalg.norm(b - a), rel=1e-12)
    assert change.max_abs_diff == np.abs(b - a).max()
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert change.cosine_similarity == pytest.approx(cosine, rel=1e-9)
    assert change.relative_l2_diff == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a))


def test_a_parameter_changed_from_all_zeros_changed_infinitely_in_relative_terms() -> None:
    change = difference(np.zeros(3), np.array([0.0, 1.0, 0.0]))
    assert change.changed and change.relative_l2_diff == math.inf
    assert change.cosine_similarity == 0.0
    assert difference(np.zeros(3), np.zeros(3)).cosine_similarity == 1.0

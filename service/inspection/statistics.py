"""Numbers computed from parameter values: the statistics of one tensor, the difference of two.

Values are converted to float64 a chunk at a time, so the extra memory stays at one chunk
whatever the tensor's size, and every result is computed in float64.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

HISTOGRAM_BINS = 20
CHUNK_VALUES = 1 << 20  # 8 MiB of float64 per chunk


@dataclass(frozen=True)
class Histogram:
    """numpy.histogram of the finite values: len(edges) == len(counts) + 1, or both empty."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class TensorStatistics:
    """Statistics of one tensor; those of its finite values are NaN when there are none."""

    count: int
    min: float
    max: float
    mean: float
    std: float
    """Population standard deviation (NumPy's default, ddof=0)."""
    l2_norm: float
    zero_fraction: float
    """Over all values; NaN for an empty tensor."""
    non_finite_count: int
    histogram: Histogram


@dataclass(frozen=True)
class Difference:
    """How a target tensor differs from a base tensor of the same shape."""

    base_l2_norm: float
    l2_norm: float
    l2_diff: float
    max_abs_diff: float
    cosine_similarity: float
    changed: bool

    @property
    def relative_l2_diff(self) -> float:
        if self.base_l2_norm > 0:
            return self.l2_diff / self.base_l2_norm
        return 0.0 if self.l2_diff == 0 else math.inf


def describe(
    values: np.ndarray, bins: int = HISTOGRAM_BINS, chunk: int = CHUNK_VALUES
) -> TensorStatistics:
    """Statistics of `values` in two passes: moments and range, then the histogram."""
    flat = np.asarray(values).reshape(-1)
    n = zeros = 0
    mean = m2 = sum_squares = 0.0
    low, high = math.inf, -math.inf
    for part in _finite_chunks(flat, chunk):
        # Chan et al.'s pairwise update: each chunk's mean and squared deviations are exact in
        # float64, and combining them loses nothing to a running sum's cancellation.
        part_mean = float(part.mean())
        part_m2 = float(np.square(part - part_mean).sum())
        total = n + part.size
        delta = part_mean - mean
        mean += delta * part.size / total
        m2 += part_m2 + delta * delta * n * part.size / total
        n = total
        sum_squares += float(np.dot(part, part))
        zeros += int(np.count_nonzero(part == 0))
        low, high = min(low, float(part.min())), max(high, float(part.max()))
    if n == 0:
        return TensorStatistics(
            count=flat.size,
            min=math.nan,
            max=math.nan,
            mean=math.nan,
            std=math.nan,
            l2_norm=math.nan,
            zero_fraction=math.nan if flat.size == 0 else 0.0,
            non_finite_count=flat.size,
            histogram=Histogram((), ()),
        )
    return TensorStatistics(
        count=flat.size,
        min=low,
        max=high,
        mean=mean,
        std=math.sqrt(m2 / n),
        l2_norm=math.sqrt(sum_squares),
        zero_fraction=zeros / flat.size,
        non_finite_count=flat.size - n,
        histogram=_histogram(flat, low, high, bins, chunk),
    )


def difference(base: np.ndarray, target: np.ndarray, chunk: int = CHUNK_VALUES) -> Difference:
    """Norms, largest difference and cosine of two tensors of the same size.

    Equal values (NaN included, where both are NaN) differ by 0; other non-finite values make
    the results NaN or infinite, which is the honest answer.
    """
    a_flat, b_flat = np.asarray(base).reshape(-1), np.asarray(target).reshape(-1)
    if a_flat.size != b_flat.size:
        raise ValueError(f"sizes differ: {a_flat.size} and {b_flat.size}")
    aa = bb = ab = dd = 0.0
    max_abs = 0.0
    changed = False
    for start in range(0, a_flat.size, chunk):
        a = a_flat[start : start + chunk].astype(np.float64)
        b = b_flat[start : start + chunk].astype(np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        d = np.where(same, 0.0, b - a)
        aa, bb, ab = aa + float(a @ a), bb + float(b @ b), ab + float(a @ b)
        dd += float(d @ d)
        max_abs = float(np.maximum(max_abs, np.abs(d).max()))  # NaN stays NaN
        changed = changed or not same.all()
    if not changed:
        cosine = 1.0  # the same vector, zero or not
    elif aa == 0 or bb == 0:
        cosine = 0.0  # a zero vector has no direction to compare
    else:
        cosine = max(-1.0, min(1.0, ab / math.sqrt(aa * bb)))
    return Difference(math.sqrt(aa), math.sqrt(bb), math.sqrt(dd), max_abs, cosine, changed)


def _finite_chunks(flat: np.ndarray, chunk: int) -> Iterator[np.ndarray]:
    for start in range(0, flat.size, chunk):
        part = flat[start : start + chunk].astype(np.float64)
        finite = part[np.isfinite(part)]
        if finite.size:
            yield finite


def _histogram(flat: np.ndarray, low: float, high: float, bins: int, chunk: int) -> Histogram:
    if low == high:
        low, high = low - 0.5, high + 0.5  # as numpy.histogram spreads a single value
    edges = np.linspace(low, high, bins + 1)
    counts = np.zeros(bins, dtype=np.int64)
    for part in _finite_chunks(flat, chunk):
        counts += np.histogram(part, bins=edges)[0]
    return Histogram(tuple(float(e) for e in edges), tuple(int(c) for c in counts))

"""Mergeable statistics of activation values: moments, range, zeros and a fixed-grid histogram.

Every histogram uses one logarithmic grid, the same for every layer, worker and sample, so that
adding two histograms is exact: windows slide, workers merge, nothing is re-binned.
"""

import math
from dataclasses import dataclass

import numpy as np

from service.protos.blockserve.v1 import inspection_pb2

BINS_PER_DECADE = 4
SMALLEST, LARGEST = -6, 6  # decades of the grid: 1e-6 to 1e6 each side of zero


def _grid() -> np.ndarray:
    steps = np.arange(SMALLEST * BINS_PER_DECADE, LARGEST * BINS_PER_DECADE + 1)
    magnitudes = 10.0 ** (steps / BINS_PER_DECADE)
    return np.concatenate([[-np.inf], -magnitudes[::-1], [0.0], magnitudes, [np.inf]])


GRID = _grid()
"""Bin edges; bin i holds GRID[i] <= v < GRID[i + 1]. Exact zeros fall in [0, 1e-6)."""
GRID_BINS = len(GRID) - 1


@dataclass
class Moments:
    """Statistics of a set of values that merge exactly (Chan et al.'s update for mean and
    squared deviations)."""

    count: int = 0
    finite: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    zeros: int = 0
    histogram: np.ndarray | None = None

    @classmethod
    def of(cls, values: np.ndarray) -> "Moments":
        flat = np.asarray(values).reshape(-1)
        if flat.dtype.kind not in "fc":
            flat = flat.astype(np.float64)
        finite_mask = np.isfinite(flat)
        finite = flat[finite_mask].astype(np.float64, copy=False)
        histogram = np.bincount(
            np.searchsorted(GRID, finite, side="right") - 1, minlength=GRID_BINS
        )
        if not finite.size:
            return cls(flat.size, 0, zeros=0, histogram=histogram)
        mean = float(finite.mean())
        return cls(
            count=flat.size,
            finite=finite.size,
            mean=mean,
            m2=float(np.square(finite - mean).sum()),
            low=float(finite.min()),
            high=float(finite.max()),
            zeros=int(np.count_nonzero(finite == 0)),
            histogram=histogram,
        )

    def add(self, other: "Moments") -> None:
        """Fold `other` in."""
        if other.finite:
            total = self.finite + other.finite
            delta = other.mean - self.mean
            self.mean += delta * other.finite / total
            self.m2 += other.m2 + delta * delta * self.finite * other.finite / total
            self.finite = total
            self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        self.count += other.count
        self.zeros += other.zeros
        if other.histogram is not None:
            self.histogram = (
                other.histogram.copy()
                if self.histogram is None
                else self.histogram + other.histogram
            )

    def to_proto(self, trim: bool) -> inspection_pb2.ActivationStatistics:
        """The statistics; `trim` leaves out the empty bins at either end (for people), else the
        whole grid is kept (for merging)."""
        nan = math.nan
        stats = inspection_pb2.ActivationStatistics(
            count=self.count,
            mean=self.mean if self.finite else nan,
            std=math.sqrt(self.m2 / self.finite) if self.finite else nan,
            min=self.low if self.finite else nan,
            max=self.high if self.finite else nan,
            zero_fraction=self.zeros / self.count if self.count else nan,
            non_finite_fraction=(self.count - self.finite) / self.count if self.count else nan,
        )
        counts = self.histogram if self.histogram is not None else np.zeros(GRID_BINS, np.int64)
        if not trim:
            stats.histogram.edges.extend(GRID.tolist())
            stats.histogram.counts.extend(counts.tolist())
        elif self.finite:
            used = np.flatnonzero(counts)
            first, last = int(used[0]), int(used[-1])
            edges = GRID[first : last + 2].copy()
            edges[0] = max(edges[0], self.low) if first == 0 else edges[0]
            edges[-1] = self.high if last == GRID_BINS - 1 else edges[-1]
            stats.histogram.edges.extend(edges.tolist())
            stats.histogram.counts.extend(counts[first : last + 1].tolist())
        return stats

    @classmethod
    def from_proto(cls, stats: inspection_pb2.ActivationStatistics) -> "Moments":
        """The inverse of to_proto(trim=False), up to the rounding of std."""
        count = stats.count
        finite = round(count * (1 - stats.non_finite_fraction)) if count else 0
        histogram = np.array(stats.histogram.counts, np.int64)
        if histogram.size != GRID_BINS:
            raise ValueError("statistics to merge must carry the whole grid (trim=False)")
        return cls(
            count=count,
            finite=finite,
            mean=stats.mean if finite else 0.0,
            m2=stats.std * stats.std * finite if finite else 0.0,
            low=stats.min if finite else math.inf,
            high=stats.max if finite else -math.inf,
            zeros=round(count * stats.zero_fraction) if count else 0,
            histogram=histogram,
        )

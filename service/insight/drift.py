"""Input drift: each numeric input feature's recent values against a reference distribution.

The reference's deciles cut the bins of the population stability index, its percentiles those
at which the Kolmogorov-Smirnov distance is measured. Scores come from bin counts, so the
windows of several workers with the same reference add up exactly (service.insight.merge).
"""

import hashlib
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from service.protos.blockserve.v1 import inspection_pb2

PSI_FLOOR = 1e-4
DECILES = np.linspace(0.1, 0.9, 9)
PERCENTILES = np.linspace(0.01, 0.99, 99)


@dataclass(frozen=True)
class FeatureReference:
    """One feature's reference: cut points and the share of reference values per bin."""

    decile_cuts: np.ndarray
    decile_shares: np.ndarray
    percentile_cuts: np.ndarray
    percentile_shares: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> "FeatureReference":
        finite = values[np.isfinite(values)]
        if not finite.size:
            finite = np.zeros(1)
        deciles = np.unique(np.quantile(finite, DECILES))
        percentiles = np.unique(np.quantile(finite, PERCENTILES))
        return cls(deciles, _shares(finite, deciles), percentiles, _shares(finite, percentiles))


def _bins(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(cuts, values, side="right"), minlength=cuts.size + 1)


def _shares(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    return _bins(values, cuts) / values.size


def psi(reference: np.ndarray, counts: np.ndarray) -> float:
    """Population stability index of window bin counts against reference shares."""
    total = counts.sum()
    if not total:
        return 0.0
    r = np.maximum(reference, PSI_FLOOR)
    w = np.maximum(counts / total, PSI_FLOOR)
    return float(np.sum((w - r) * np.log(w / r)))


def ks(reference: np.ndarray, counts: np.ndarray) -> float:
    """Largest difference of the cumulative shares at the cut points."""
    total = counts.sum()
    if not total:
        return 0.0
    return float(np.max(np.abs(np.cumsum(counts / total) - np.cumsum(reference))))


def feature_indices(width: int, most: int) -> np.ndarray:
    """Which features of a row are scored: all of them, or `most` evenly spaced."""
    if width <= most:
        return np.arange(width)
    return np.unique(np.linspace(0, width - 1, most).round().astype(np.int64))


class InputReference:
    """The reference rows of every input, with the bins cut from them."""

    def __init__(self, source: str, rows: dict[str, np.ndarray], most_features: int) -> None:
        self.source = source
        self.features: dict[str, np.ndarray] = {}
        self.bins: dict[str, list[FeatureReference]] = {}
        digest = hashlib.sha256(source.encode())
        for name, array in sorted(rows.items()):
            flat = as_rows(array)
            self.features[name] = feature_indices(flat.shape[1], most_features)
            self.bins[name] = [FeatureReference.of(flat[:, i]) for i in self.features[name]]
            digest.update(name.encode() + flat.tobytes())
        self.rows = max((len(a) for a in rows.values()), default=0)
        self.id = digest.hexdigest()[:16]


def as_rows(array: np.ndarray) -> np.ndarray:
    """Rows of an input as float64 features: the batch dimension first, the rest flattened."""
    array = np.asarray(array)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    return array.reshape(array.shape[0], -1).astype(np.float64)


class DriftWindow:
    """The most recent sampled rows of each input, compared against a reference."""

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._parts: dict[str, deque[np.ndarray]] = {}
        self._held: dict[str, int] = {}

    def add(self, name: str, rows: np.ndarray) -> None:
        parts = self._parts.setdefault(name, deque())
        parts.append(rows[-self._rows :])
        self._held[name] = self._held.get(name, 0) + len(parts[-1])
        while self._held[name] - len(parts[0]) >= self._rows:
            self._held[name] -= len(parts.popleft())

    def rows(self) -> int:
        return max(self._held.values(), default=0)

    def values(self, name: str) -> np.ndarray | None:
        parts = self._parts.get(name)
        return np.concatenate(parts)[-self._rows :] if parts else None


def drift_state(
    reference: InputReference | None, window: DriftWindow, min_rows: int
) -> inspection_pb2.InputDriftState:
    """The window's bin counts and scores; scores only with `min_rows` rows or more."""
    state = inspection_pb2.InputDriftState()
    if reference is None:
        return state
    state.reference_id = reference.id
    state.drift.window_rows = window.rows()
    if state.drift.window_rows < min_rows:
        return state
    for name, features in reference.bins.items():
        values = window.values(name)
        if values is None:
            continue
        bins = state.inputs.add(name=name)
        for index, feature in zip(reference.features[name], features, strict=True):
            column = values[:, index] if index < values.shape[1] else np.zeros(0)
            column = column[np.isfinite(column)]
            bins.features.add(
                index=int(index),
                decile_cuts=feature.decile_cuts.tolist(),
                decile_reference=feature.decile_shares.tolist(),
                decile_counts=_bins(column, feature.decile_cuts).tolist(),
                percentile_cuts=feature.percentile_cuts.tolist(),
                percentile_reference=feature.percentile_shares.tolist(),
                percentile_counts=_bins(column, feature.percentile_cuts).tolist(),
            )
    score_state(state)
    return state


def score_state(state: inspection_pb2.InputDriftState) -> None:
    """Fill state.drift.inputs from the bins."""
    del state.drift.inputs[:]
    for bins in state.inputs:
        scored = state.drift.inputs.add(name=bins.name, score=0.0)
        for f in bins.features:
            value = psi(np.array(f.decile_reference), np.array(f.decile_counts))
            distance = ks(np.array(f.percentile_reference), np.array(f.percentile_counts))
            scored.features.add(index=f.index, psi=value, ks=distance)
            if not math.isnan(value):
                scored.score = max(scored.score, value)

"""Live insight as Prometheus metrics: a custom collector over the latest merged summaries.

The front holds the summaries (refreshed from the workers now and then) and this collector
turns them into series at scrape time, so nothing is kept per series between scrapes and a
version that unloads leaves no series behind. The count is bounded per model version, as
--max_parameter_series bounds the parameter metrics: layers beyond the budget, in the order
the summary lists them, are left out.
"""

import math
import threading
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from service.protos.blockserve.v1 import inspection_pb2

ACTIVATION_STATISTICS = (
    ("mean", "Mean of a layer's activations over the sampled window."),
    ("std", "Standard deviation of a layer's activations over the sampled window."),
    ("min", "Smallest activation of a layer over the sampled window."),
    ("max", "Largest activation of a layer over the sampled window."),
    ("zero_fraction", "Share of a layer's activations exactly zero (dead ReLUs), sampled window."),
    ("non_finite_fraction", "Share of a layer's activations NaN or infinite, sampled window."),
)
LAYER_LABELS = ("model", "version", "layer")
DEFAULT_MAX_SERIES = 1000


class InsightCollector(Collector):
    """blockserve_activation_*{model,version,layer}, blockserve_activation_sampled_requests
    {model,version} and blockserve_input_drift{model,version,input}."""

    def __init__(self, max_series_per_version: int = DEFAULT_MAX_SERIES) -> None:
        self._max_series = max_series_per_version
        self._lock = threading.Lock()
        self._activations: dict[tuple[str, int], inspection_pb2.ActivationSummary] = {}
        self._drift: dict[tuple[str, int], inspection_pb2.InputDrift] = {}

    def update(
        self,
        activations: inspection_pb2.ActivationSummary | None = None,
        drift: inspection_pb2.InputDrift | None = None,
    ) -> None:
        """Hold the latest merged summaries of a version (from merge_*)."""
        with self._lock:
            if activations is not None:
                self._activations[(activations.model, activations.version)] = activations
            if drift is not None:
                self._drift[(drift.model, drift.version)] = drift

    def remove(self, model: str, version: int) -> None:
        """Forget an unloaded version: its series go at the next scrape."""
        with self._lock:
            self._activations.pop((model, version), None)
            self._drift.pop((model, version), None)

    def describe(self) -> list:
        return list(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            activations = list(self._activations.values())
            drifts = list(self._drift.values())
        families = self._families()
        stats, sampled, drift = families[:-2], families[-2], families[-1]
        per_layer = len(ACTIVATION_STATISTICS)
        for summary in activations:
            labels = (summary.model, str(summary.version))
            sampled.add_metric(labels, summary.sampled_requests)
            budget = max(0, (self._max_series - 1) // per_layer)
            for layer in summary.layers[:budget]:
                for family, (statistic, _) in zip(stats, ACTIVATION_STATISTICS, strict=True):
                    value = getattr(layer.window, statistic)
                    if layer.window.count and not math.isnan(value):
                        family.add_metric((*labels, layer.path), value)
        for summary in drifts:
            labels = (summary.model, str(summary.version))
            for scored in summary.inputs[: self._max_series]:
                drift.add_metric((*labels, scored.name), scored.score)
        yield from families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            *(
                GaugeMetricFamily(f"blockserve_activation_{s}", text, labels=LAYER_LABELS)
                for s, text in ACTIVATION_STATISTICS
            ),
            GaugeMetricFamily(
                "blockserve_activation_sampled_requests",
                "Requests of a model version run through its instrumented call since it loaded.",
                labels=("model", "version"),
            ),
            GaugeMetricFamily(
                "blockserve_input_drift",
                "Largest population stability index over an input's features, recent sampled "
                "requests against the reference; above 0.25 is a significant shift.",
                labels=("model", "version", "input"),
            ),
        ]

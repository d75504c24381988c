"""The Prometheus metrics: the product's contract, one registry, one set of labels for every path.

The registry is created here and nowhere else; the rest of the server is handed a `Metrics`.
"""

import contextlib
import platform
from importlib import metadata
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from service import __version__
from service.insight.metrics import InsightCollector
from service.inspection.samples import parameter_samples


class AvailableVersion(Protocol):
    """What the metrics read of a version that became available (a LoadedVersion)."""

    name: str
    version: int
    load_seconds: float
    summary: Any
    signatures: dict[str, Any]
    looped_signatures: frozenset[str]


# From tens of microseconds (a lone small Predict) up to seconds (a queue under overload).
LATENCY_BUCKETS = (
    25e-6, 50e-6, 100e-6, 200e-6, 400e-6, 700e-6,
    1e-3, 2e-3, 4e-3, 7e-3, 10e-3, 20e-3, 40e-3, 70e-3,
    0.1, 0.2, 0.4, 0.7, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip
LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

UNKNOWN_MODEL = "__unknown__"
"""The `model` label of requests naming a model that is not served: keeps series bounded."""
ALL_MODELS = "__all__"
"""The `model` label of requests about no one model: GET /v1/models, the V2 repository index."""


PARAMETER_STATISTICS = ("l2_norm", "mean", "std", "min", "max")


class Children:
    """A metric's labelled children, each looked up once.

    prometheus-client's `labels()` validates its values and takes a lock on every call (10-20 us
    here, seven times a request); a dict lookup is a fraction of a microsecond. Only for
    metrics whose series are never removed, with bounded label values.
    """

    def __init__(self, metric: MetricWrapperBase) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class Metrics:
    """Every metric blockserve exports, on one registry."""

    def __init__(self, max_parameter_series: int = 1000) -> None:
        self._max_parameter_series = max_parameter_series
        self._parameter_series: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "blockserve_requests",
            "Requests by outcome; code is the gRPC status name.",
            ["model", "version", "signature", "method", "protocol", "code"],
            registry=r,
        )
        self.request_duration = Histogram(
            "blockserve_request_duration_seconds",
            "End-to-end request time inside the server.",
            ["model", "version", "method", "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_duration = Histogram(
            "blockserve_inference_duration_seconds",
            "Time of the TensorFlow call alone.",
            ["model", "version", "signature"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_duration = Histogram(
            "blockserve_queue_duration_seconds",
            "Time a request waited before its TensorFlow call started.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "blockserve_batch_size",
            "Rows per TensorFlow call.",
            ["model", "version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge(
            "blockserve_inflight_requests", "Requests being served.", ["protocol"], registry=r
        )
        self.available = Gauge(
            "blockserve_model_version_available",
            "1 while a model version can serve requests.",
            ["model", "version"],
            registry=r,
        )
        self.load_duration = Histogram(
            "blockserve_model_load_duration_seconds",
            "Time to load and warm up a model version.",
            ["model"],
            buckets=LOAD_BUCKETS,
            registry=r,
        )
        self.load_failures = Counter(
            "blockserve_model_load_failures",
            "Failed attempts to load a model version: each retry that fails counts again.",
            ["model"],
            registry=r,
        )
        self.quarantined = Gauge(
            "blockserve_model_versions_quarantined",
            "Versions of a model not loaded because loading them killed a TensorFlow worker; "
            "tried again once their files change or the model config is reloaded.",
            ["model"],
            registry=r,
        )
        self.build_info = Gauge(
            "blockserve_build_info",
            "Always 1; the labels say what is running.",
            ["version", "tensorflow_version", "python_version"],
            registry=r,
        )
        tensorflow = metadata.version("tensorflow")  # the workers' TensorFlow; the front has none
        self.build_info.labels(__version__, tensorflow, platform.python_version()).set(1)
        self.worker_calls = Counter(
            "blockserve_worker_calls",
            "TensorFlow calls sent to each worker process.",
            ["worker"],
            registry=r,
        )
        self.worker_restarts = Counter(
            "blockserve_worker_restarts",
            "Times a worker process died and was started again with its versions.",
            ["worker"],
            registry=r,
        )
        self.request_crashes = Counter(
            "blockserve_request_crashes",
            "TensorFlow worker processes that died while running a request for this version "
            "(the worker is started again and the version keeps serving).",
            ["model", "version"],
            registry=r,
        )
        self.resent = Counter(
            "blockserve_requests_resent",
            "Requests sent to another worker because theirs died before starting them.",
            registry=r,
        )
        self.request_paths = Counter(
            "blockserve_request_paths",
            "Requests answered by each road of the TensorFlow call: single (a call of its own), "
            "looped (exact batching: one call computing each request on its own), merged "
            "(--enable_batching: rows shared with other requests).",
            ["model", "version", "path"],
            registry=r,
        )
        self.exact_batching = Gauge(
            "blockserve_exact_batching",
            "1 where a version's signature passed the load-time check that its looped call "
            "gives each request its own call's bits, so exact batching serves it; else 0.",
            ["model", "version", "signature"],
            registry=r,
        )
        self.rejected = Counter(
            "blockserve_rejected_requests",
            "Requests refused before reaching a model, by reason.",
            ["protocol", "reason"],
            registry=r,
        )
        self.request_log_records = Counter(
            "blockserve_request_log_records",
            "Sampled calls written to a model's request log (its logging_config).",
            ["model"],
            registry=r,
        )
        self.request_log_dropped = Counter(
            "blockserve_request_log_dropped",
            "Sampled calls not written to the request log, by reason: buffer_full (the writer "
            "fell behind) or write_error; the calls themselves were answered.",
            ["model", "reason"],
            registry=r,
        )

        self.insight = InsightCollector(max_parameter_series)
        r.register(self.insight)

        self.parameters = Gauge(
            "blockserve_model_parameters",
            "Number of parameter values of a model version, by kind.",
            ["model", "version", "kind"],
            registry=r,
        )
        self.parameter_statistics = {
            statistic: Gauge(
                f"blockserve_parameter_{statistic}",
                f"The {statistic} of one parameter tensor of a model version.",
                ["model", "version", "layer", "variable", "kind"],
                registry=r,
            )
            for statistic in PARAMETER_STATISTICS
        }

    # RepositoryListener

    def version_available(self, model: AvailableVersion) -> None:
        version = str(model.version)
        self.available.labels(model.name, version).set(1)
        for signature in model.signatures:
            looped = signature in model.looped_signatures
            self.exact_batching.labels(model.name, version, signature).set(int(looped))
        self.load_duration.labels(model.name).observe(model.load_seconds)
        summary = model.summary
        if summary is None:
            return
        for kind in ("trainable", "non_trainable", "constant"):
            count = getattr(summary, f"{kind}_parameters")
            self.parameters.labels(model.name, version, kind).set(count)
        series = []
        samples = parameter_samples(summary, self._max_parameter_series, PARAMETER_STATISTICS)
        for sample in samples:
            labels = (model.name, version, sample.layer, sample.variable, sample.kind)
            self.parameter_statistics[sample.statistic].labels(*labels).set(sample.value)
            series.append(labels)
        self._parameter_series[(model.name, version)] = series

    def version_unavailable(self, name: str, version: int) -> None:
        self.available.labels(name, str(version)).set(0)
        self.insight.remove(name, version)
        for labels in list(self.exact_batching._metrics):
            if labels[:2] == (name, str(version)):
                self.exact_batching.remove(*labels)
        for kind in ("trainable", "non_trainable", "constant"):
            with contextlib.suppress(KeyError):
                self.parameters.remove(name, str(version), kind)
        for labels in self._parameter_series.pop((name, str(version)), []):
            for gauge in self.parameter_statistics.values():
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)

    def models_configured(self, names: list[str]) -> None:
        # Every configured model has its series from the start, at 0: a dashboard and an
        # alert see "no failures" rather than "no data".
        for name in names:
            self.load_failures.labels(name)
            self.quarantined.labels(name)

    # LoadFailureListener

    def load_failed(self, name: str, version: int) -> None:
        self.load_failures.labels(name).inc()

    def versions_quarantined(self, name: str, count: int) -> None:
        self.quarantined.labels(name).set(count)

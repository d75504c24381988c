"""The request road's settings, as the front passes them to every worker (a plain value)."""

from dataclasses import dataclass, field

from service.insight.settings import InsightSettings
from service.shared.batching import BatchingParameters


@dataclass(frozen=True)
class ServingSettings:
    """The server's flags that shape the request road; pickled to every worker at start."""

    max_request_bytes: int = 64 << 20
    max_rows_per_request: int = 1 << 20
    tensor_content: bool = False
    exact_batching: bool = False
    exact_batching_min_requests: int = 2
    """A looped call starts only with this many compatible requests waiting: measured in one
    process, two one-row mlp requests cost 109 us each looped against 147 us alone."""
    exact_batching_max_requests: int = 64
    merge_rows: bool = False
    """--enable_batching: requests waiting together share a call's rows."""
    batching: BatchingParameters = field(default_factory=BatchingParameters)
    load_threads: int = 1
    """--num_load_threads: versions a worker loads at once."""
    per_model_batching: bool = False
    """--enable_per_model_batching_parameters: a version's own batching_params.pbtxt."""
    insight: InsightSettings = field(default_factory=InsightSettings)
    """Live insight: the share of requests sampled for activation statistics and drift."""

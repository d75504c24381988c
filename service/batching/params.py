"""TensorFlow Serving's BatchingParameters, read into one frozen value."""

import os
from dataclasses import dataclass

from service.config import ConfigError, read_text_proto
from service.protos.blockserve.v1 import server_config_pb2


@dataclass(frozen=True)
class BatchingParameters:
    """How requests of one model version are merged into TensorFlow calls."""

    max_batch_size: int = 256
    batch_timeout_micros: int = 0
    """With a thread busy, wait this long for more rows; a lone request never waits."""
    max_enqueued_batches: int = 16
    num_batch_threads: int = max(2, os.cpu_count() or 1)
    allowed_batch_sizes: tuple[int, ...] = ()

    @property
    def max_queued_rows(self) -> int:
        return self.max_batch_size * self.max_enqueued_batches


def read_batching_parameters(path: str) -> BatchingParameters:
    """The parameters in a text-format BatchingParameters file; defaults for what it leaves out."""
    if not path:
        return BatchingParameters()
    proto = read_text_proto(path, server_config_pb2.BatchingParameters(), "batching parameters")
    defaults = BatchingParameters()

    def value(field: str) -> int:
        return getattr(proto, field).value if proto.HasField(field) else getattr(defaults, field)

    params = BatchingParameters(
        max_batch_size=value("max_batch_size"),
        batch_timeout_micros=value("batch_timeout_micros"),
        max_enqueued_batches=value("max_enqueued_batches"),
        num_batch_threads=value("num_batch_threads"),
        allowed_batch_sizes=tuple(proto.allowed_batch_sizes),
    )
    for field in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
        if getattr(params, field) <= 0:
            raise ConfigError(f"batching parameters {path}: {field} must be positive")
    sizes = params.allowed_batch_sizes
    if sizes and (list(sizes) != sorted(set(sizes)) or sizes[-1] != params.max_batch_size):
        raise ConfigError(
            f"batching parameters {path}: allowed_batch_sizes must increase and end with "
            f"max_batch_size ({params.max_batch_size})"
        )
    return params

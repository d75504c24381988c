"""TensorFlow Serving's BatchingParameters, read into one frozen value."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from service.protos.blockserve.v1 import server_config_pb2
from service.shared.config_files import ConfigError, read_text_proto

log = logging.getLogger(__name__)

WITHOUT_EFFECT = {
    "pad_variable_length_inputs": "requests whose inner dimensions differ run in calls apart, "
    "unpadded",
    "enable_large_batch_splitting": "a request of max_batch_size rows or more runs as one call "
    "of its own, unsplit",
}
"""BatchingParameters fields that parse and are checked but change nothing here, and why."""

PER_MODEL_FILE = "batching_params.pbtxt"
"""A version's own BatchingParameters (--enable_per_model_batching_parameters)."""


@dataclass(frozen=True)
class BatchingParameters:
    """How requests of one model version are merged into TensorFlow calls."""

    max_batch_size: int = 256
    batch_timeout_micros: int = 0
    """With a thread busy, wait this long for more rows; a lone request never waits."""
    max_enqueued_batches: int = 16
    num_batch_threads: int = max(2, os.cpu_count() or 1)
    allowed_batch_sizes: tuple[int, ...] = ()
    thread_pool_name: str = "batch_threads"
    pad_variable_length_inputs: bool = False
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int = 0
    """With large batch splitting, the largest call a batch is split into; 0: max_batch_size."""

    @property
    def max_queued_rows(self) -> int:
        return self.max_batch_size * self.max_enqueued_batches


def read_batching_parameters(path: str) -> BatchingParameters:
    """The parameters in a text-format BatchingParameters file; defaults for what it leaves out."""
    if not path:
        return BatchingParameters()
    proto = read_text_proto(path, server_config_pb2.BatchingParameters(), "batching parameters")
    return from_proto(proto, f"batching parameters {path}", BatchingParameters())


def read_version_batching_parameters(
    version_dir: Path, server: BatchingParameters
) -> BatchingParameters:
    """A version's batching_params.pbtxt, as --enable_per_model_batching_parameters reads it:
    its own sizes and timeouts; the thread pool (name and size) stays the server's, which every
    batching model shares. The server's parameters where the version has no file."""
    path = version_dir / PER_MODEL_FILE
    if not path.is_file():
        return server
    proto = read_text_proto(
        str(path), server_config_pb2.BatchingParameters(), "batching parameters"
    )
    own = from_proto(proto, f"batching parameters {path}", BatchingParameters())
    return BatchingParameters(
        **{
            **own.__dict__,
            "num_batch_threads": server.num_batch_threads,
            "thread_pool_name": server.thread_pool_name,
        }
    )


def from_proto(
    proto: server_config_pb2.BatchingParameters, where: str, defaults: BatchingParameters
) -> BatchingParameters:
    """Every field of a BatchingParameters message, checked as TensorFlow Serving checks it."""

    def value(field: str) -> int | bool | str:
        return getattr(proto, field).value if proto.HasField(field) else getattr(defaults, field)

    params = BatchingParameters(
        max_batch_size=value("max_batch_size"),
        batch_timeout_micros=value("batch_timeout_micros"),
        max_enqueued_batches=value("max_enqueued_batches"),
        num_batch_threads=value("num_batch_threads"),
        allowed_batch_sizes=tuple(proto.allowed_batch_sizes),
        thread_pool_name=value("thread_pool_name"),
        pad_variable_length_inputs=proto.pad_variable_length_inputs,
        enable_large_batch_splitting=value("enable_large_batch_splitting"),
        max_execution_batch_size=value("max_execution_batch_size"),
    )
    for field, why in WITHOUT_EFFECT.items():
        if getattr(params, field):
            log.warning("%s: %s has no effect in blockserve: %s", where, field, why)
    for field in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
        if getattr(params, field) <= 0:
            raise ConfigError(f"{where}: {field} must be positive")
    if params.batch_timeout_micros < 0:
        raise ConfigError(f"{where}: batch_timeout_micros must be 0 or more")
    sizes = params.allowed_batch_sizes
    largest = params.max_batch_size
    if params.enable_large_batch_splitting and params.max_execution_batch_size:
        largest = params.max_execution_batch_size
        if largest > params.max_batch_size:
            raise ConfigError(
                f"{where}: max_execution_batch_size ({largest}) must not exceed max_batch_size "
                f"({params.max_batch_size})"
            )
    if sizes and (list(sizes) != sorted(set(sizes)) or sizes[-1] != largest):
        what = "max_execution_batch_size" if largest != params.max_batch_size else "max_batch_size"
        raise ConfigError(
            f"{where}: allowed_batch_sizes must increase and end with {what} ({largest})"
        )
    return params

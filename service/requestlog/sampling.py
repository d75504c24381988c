"""Which models log their requests, at what rate, and to which files: their logging_config."""

from dataclasses import dataclass

from service.protos.tensorflow_serving.config import logging_config_pb2, model_server_config_pb2

COLLECTOR_TYPES = ("", "tfrecord")
"""log_collector_config types written here. TensorFlow Serving's open-source build registers
none, and refuses a type it does not know; so does this server, naming the ones it has."""


@dataclass(frozen=True)
class ModelLogging:
    """One model's request logging: the files' prefix and the share of requests logged."""

    model: str
    filename_prefix: str
    sampling_rate: float
    sampling_config: logging_config_pb2.SamplingConfig
    """Copied into each record's log_metadata, as TensorFlow Serving does."""


def logging_problem(model: model_server_config_pb2.ModelConfig) -> str:
    """Why a model's logging_config cannot be served, or '' if it can (or has none)."""
    if not model.HasField("logging_config"):
        return ""
    config = model.logging_config
    collector = config.log_collector_config
    if collector.type not in COLLECTOR_TYPES:
        return (
            f"model {model.name!r}: log_collector_config type {collector.type!r} is not "
            "known; leave it empty or give 'tfrecord'"
        )
    if not collector.filename_prefix:
        return f"model {model.name!r}: logging_config needs log_collector_config.filename_prefix"
    rate = config.sampling_config.sampling_rate
    if not 0.0 <= rate <= 1.0:
        return f"model {model.name!r}: sampling_rate must be between 0 and 1, got {rate}"
    return ""


def model_logging(model: model_server_config_pb2.ModelConfig) -> ModelLogging | None:
    """The logging a (checked) model config asks for; None when it logs nothing."""
    config = model.logging_config
    rate = config.sampling_config.sampling_rate
    if not model.HasField("logging_config") or rate <= 0.0:
        return None
    sampling = logging_config_pb2.SamplingConfig()
    sampling.CopyFrom(config.sampling_config)  # the config message may be reused; this is ours
    return ModelLogging(model.name, config.log_collector_config.filename_prefix, rate, sampling)

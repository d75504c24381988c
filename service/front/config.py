"""Command-line flags (service.front.flags) and the environment, parsed into one frozen config.

Nothing else in the server reads `sys.argv` or the environment. The files the flags name are
read and checked here, so that a bad one stops the server before anything starts; a flag that
means nothing on this server is logged once when given.
"""

import argparse
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import DecodeError

from service import __version__
from service.front.flags import NO_EFFECT, build_parser
from service.protos.blockserve.v1 import server_config_pb2
from service.protos.tensorflow.core.protobuf import config_pb2
from service.protos.tensorflow_serving.config import model_server_config_pb2, platform_config_pb2
from service.requestlog.sampling import logging_problem
from service.shared.config_files import ConfigError, read_text_proto

log = logging.getLogger(__name__)

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
"""What a model name may be: it appears in URLs and metric labels, never as a path."""

MODEL_CONFIG_PARSE_ERROR = "Error parsing text-format tensorflow.serving.ModelServerConfig"
"""tensorflow_model_server's words for a model config that does not parse; tools match them."""

DOCKER_MODELS_ROOT = "/models"
"""Where TensorFlow Serving's Docker image looks for ${MODEL_NAME} when MODEL_BASE_PATH is unset."""

MIXED_PRECISION_MODES = ("", "bfloat16")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server was told at start-up."""

    port: int
    rest_api_port: int
    bind_address: str
    model_name: str
    model_base_path: str
    model_config_file: str
    model_config_file_poll_wait_seconds: float
    file_system_poll_wait_seconds: float
    monitoring_config_file: str
    enable_batching: bool
    batching_parameters_file: str
    grpc_channel_arguments: tuple[tuple[str, int | str], ...]
    rest_api_timeout_in_ms: int
    saved_model_tags: frozenset[str]
    enable_model_warmup: bool
    allow_version_labels_for_unavailable_models: bool
    max_request_bytes: int
    max_rows_per_request: int
    max_queued_requests: int
    max_concurrent_requests: int
    shutdown_grace_seconds: float
    max_parameter_series: int
    ssl_config_file: str
    rest_tls_cert_file: str
    rest_tls_key_file: str
    admin_token_file: str
    num_workers: int
    tensorflow_intra_op_parallelism: int
    """Threads one op may use; --tensorflow_session_parallelism fills it in when not given."""
    tensorflow_inter_op_parallelism: int
    # -- the rest of tensorflow_model_server's flags ------------------------------------------
    grpc_socket_path: str
    grpc_max_threads: int
    enable_grpc_healthcheck_service: bool
    use_alts_credentials: bool
    rest_api_num_threads: int
    rest_api_enable_cors_support: bool
    enable_per_model_batching_parameters: bool
    num_load_threads: int
    num_unload_threads: int
    max_num_load_retries: int
    load_retry_interval_micros: int
    tensorflow_session_parallelism: int
    tensorflow_session_config_file: str
    session_config: bytes
    """The models' serialized tensorflow.ConfigProto: --platform_config_file's, or
    --tensorflow_session_config_file's with the thread counts above in it."""
    platform_config_file: str
    num_request_iterations_for_warmup: int
    prefer_tflite_model: bool
    num_tflite_pools: int
    num_tflite_interpreters_per_pool: int
    enable_signature_method_name_check: bool
    xla_cpu_compilation_enabled: bool
    mixed_precision: str
    enable_serialization_as_tensor_content: bool
    per_process_gpu_memory_fraction: float
    xla_gpu_compilation_enabled: bool
    skip_initialize_tpu: bool
    flush_filesystem_caches: bool
    remove_unused_fields_from_bundle_metagraph: bool
    thread_pool_factory_config_file: str
    enable_profiler: bool
    flags_without_effect: tuple[tuple[str, str], ...] = ()
    """The flags given that mean nothing here, with why (logged once at start-up)."""
    request_log_max_file_bytes: int = 64 << 20
    """A request-log file is closed for the next one past this size."""
    activation_sample_rate: float = 0.01
    activation_max_samples_per_second: float = 20.0
    enable_exact_batching: bool = False
    large_request_bytes: int = 1 << 20
    """Requests this large go to a worker of their own (the large-request lane); 0: none."""


def read_model_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    """The ModelServerConfig in `path`, checked for what a server cannot serve."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read model config {path}: {e.strerror}") from e
    try:
        config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as e:
        raise ConfigError(
            f"{MODEL_CONFIG_PARSE_ERROR}: model config {path} does not parse: {e}"
        ) from e
    check_model_config(config, path)
    return config


def check_model_config(config: model_server_config_pb2.ModelServerConfig, where: str) -> None:
    """Refuse configs this server cannot serve, naming the model and the field."""
    if config.WhichOneof("config") != "model_config_list":
        raise ConfigError(f"{where}: only model_config_list is supported")
    names = [m.name for m in config.model_config_list.config]
    for model in config.model_config_list.config:
        if not model.name:
            raise ConfigError(f"{where}: a model has no name")
        if not MODEL_NAME.fullmatch(model.name):
            raise ConfigError(
                f"{where}: model name {model.name[:100]!r} is not valid: letters, digits, "
                "'.', '_', '-', starting with a letter or digit"
            )
        if not model.base_path:
            raise ConfigError(f"{where}: model {model.name!r} has no base_path")
        if model.model_platform not in ("", "tensorflow"):
            raise ConfigError(
                f"{where}: model {model.name!r} has platform {model.model_platform!r}; "
                "only tensorflow is served"
            )
        problem = logging_problem(model)
        if problem:
            raise ConfigError(f"{where}: {problem}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{where}: model names appear twice: {', '.join(duplicates)}")


def single_model_config(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
    """The config that --model_name/--model_base_path stand for."""
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add()
    entry.name, entry.base_path, entry.model_platform = name, base_path, "tensorflow"
    return config


def read_session_config(path: str) -> bytes:
    """The text-format ConfigProto of --tensorflow_session_config_file, serialized."""
    config = read_text_proto(path, config_pb2.ConfigProto(), "TensorFlow session config")
    return config.SerializeToString()


def read_platform_session_config(path: str) -> bytes:
    """The tensorflow platform's session config in a text-format PlatformConfigMap, serialized.

    TensorFlow Serving's own format: `platform_configs { key: "tensorflow" value {
    source_adapter_config { type_url: ".../tensorflow.serving.SavedModelBundleSourceAdapterConfig"
    value: "..." } } }`, the value a serialized SavedModelBundleSourceAdapterConfig.
    """
    where = f"platform config {path}"
    platforms = read_text_proto(path, platform_config_pb2.PlatformConfigMap(), "platform config")
    others = sorted(set(platforms.platform_configs) - {"tensorflow"})
    if others:
        raise ConfigError(f"{where}: only the tensorflow platform is served, not {others}")
    if "tensorflow" not in platforms.platform_configs:
        return b""
    adapter = platforms.platform_configs["tensorflow"].source_adapter_config
    kind = adapter.type_url.rpartition("/")[2]
    if kind != "tensorflow.serving.SavedModelBundleSourceAdapterConfig":
        raise ConfigError(
            f"{where}: source_adapter_config is {kind or 'empty'}; expected "
            "tensorflow.serving.SavedModelBundleSourceAdapterConfig"
        )
    try:
        adapter_config = server_config_pb2.SavedModelBundleSourceAdapterConfig.FromString(
            adapter.value
        )
        bundle = adapter_config.legacy_config
        config_pb2.ConfigProto.FromString(bundle.session_config)
    except DecodeError as e:
        raise ConfigError(f"{where}: source_adapter_config does not decode: {e}") from e
    if bundle.HasField("batching_parameters"):
        log.warning(
            "%s: its batching_parameters have no effect here; give --enable_batching and "
            "--batching_parameters_file",
            where,
        )
    return bundle.session_config


def given_flags(argv: Sequence[str]) -> set[str]:
    """The flags named on the command line, without their dashes."""
    return {arg[2:].partition("=")[0] for arg in argv if arg.startswith("--") and len(arg) > 2}


def parse(
    argv: list[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[ServerConfig, model_server_config_pb2.ModelServerConfig]:
    """Flags into a ServerConfig and the initial model config; ConfigError or exit 2 on misuse."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"blockserve {__version__}")
        raise SystemExit(0)
    given = given_flags(argv)
    name, base_path = _single_model(args, environ)
    if args.model_config_file:
        if "model_base_path" in given or "model_name" in given:
            log.info("--model_config_file is given: --model_name/--model_base_path are ignored")
        models = read_model_config(args.model_config_file)
    elif base_path:
        models = single_model_config(name, base_path)
    else:
        raise ConfigError(
            "nothing to serve: give --model_config_file or --model_base_path "
            "(or MODEL_NAME/MODEL_BASE_PATH in the environment)"
        )
    _check_numbers(args)
    if args.use_alts_credentials and args.ssl_config_file:
        raise ConfigError("give --use_alts_credentials or --ssl_config_file, not both")
    if args.mixed_precision not in MIXED_PRECISION_MODES:
        raise ConfigError(
            f"--mixed_precision must be 'bfloat16' or empty, got {args.mixed_precision!r}"
        )
    session = _session_config(args, given)
    intra = session.intra_op_parallelism_threads
    inter = session.inter_op_parallelism_threads
    session_config = session.SerializeToString()
    without_effect = tuple((f, NO_EFFECT[f]) for f in NO_EFFECT if f in given)
    for flag, why in without_effect:
        log.warning("--%s has no effect here: %s", flag, why)
    tags = frozenset(t.strip() for t in args.saved_model_tags.split(",") if t.strip())
    derived = {
        "saved_model_tags": tags,
        "model_name": name,
        "model_base_path": base_path,
        "tensorflow_intra_op_parallelism": intra,
        "tensorflow_inter_op_parallelism": inter,
        "num_tflite_pools": max(1, args.num_tflite_pools),
        "session_config": session_config,
        "flags_without_effect": without_effect,
    }
    fields = {
        f: derived[f] if f in derived else getattr(args, f)
        for f in ServerConfig.__dataclass_fields__
    }
    return ServerConfig(**fields), models


THREAD_FLAGS = {
    "tensorflow_intra_op_parallelism": "intra_op_parallelism_threads",
    "tensorflow_inter_op_parallelism": "inter_op_parallelism_threads",
}


def _session_config(args: argparse.Namespace, given: set[str]) -> config_pb2.ConfigProto:
    """The models' session config, as tensorflow_model_server builds it: the platform config's
    as it is; else --tensorflow_session_config_file's (or an empty one) with the thread counts
    of the parallelism flags where they are given, or where the file leaves them unset."""
    session = config_pb2.ConfigProto()
    if args.platform_config_file:
        ignored = sorted({*THREAD_FLAGS, "tensorflow_session_parallelism"} & given)
        if ignored or args.tensorflow_session_config_file:
            log.warning(
                "--platform_config_file is given: %s ignored, as in tensorflow_model_server",
                ", ".join(f"--{f}" for f in ignored) or "--tensorflow_session_config_file",
            )
        session.ParseFromString(read_platform_session_config(args.platform_config_file))
        return session
    if args.tensorflow_session_config_file:
        session.ParseFromString(read_session_config(args.tensorflow_session_config_file))
    if args.tensorflow_session_parallelism > 0:
        if set(THREAD_FLAGS) & given:
            raise ConfigError(
                "give --tensorflow_session_parallelism or --tensorflow_intra_op_parallelism/"
                "--tensorflow_inter_op_parallelism, not both"
            )
        for field in THREAD_FLAGS.values():
            setattr(session, field, args.tensorflow_session_parallelism)
        return session
    for flag, field in THREAD_FLAGS.items():
        if flag in given or not getattr(session, field):
            setattr(session, field, getattr(args, flag))
    return session


def _single_model(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str]:
    """--model_name/--model_base_path, filled in from MODEL_NAME/MODEL_BASE_PATH as TensorFlow
    Serving's Docker image does (`--model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME}`)."""
    env_name = environ.get("MODEL_NAME", "")
    env_base = environ.get("MODEL_BASE_PATH", "")
    name = args.model_name if args.model_name is not None else env_name or "default"
    if args.model_base_path is not None:
        return name, args.model_base_path
    if env_name or env_base:
        return name, f"{(env_base or DOCKER_MODELS_ROOT).rstrip('/')}/{name}"
    return name, ""


def _check_numbers(args: argparse.Namespace) -> None:
    for name in ("port", "rest_api_port"):
        if not 0 <= getattr(args, name) <= 65535:
            raise ConfigError(f"--{name} must be a port number, got {getattr(args, name)}")
    if bool(args.rest_tls_cert_file) != bool(args.rest_tls_key_file):
        raise ConfigError("--rest_tls_cert_file and --rest_tls_key_file go together")
    for name in (
        "max_request_bytes",
        "max_rows_per_request",
        "max_queued_requests",
        "num_workers",
        "num_tflite_interpreters_per_pool",
        "request_log_max_file_bytes",
    ):
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name} must be positive, got {getattr(args, name)}")
    for name in (
        "tensorflow_intra_op_parallelism",
        "tensorflow_inter_op_parallelism",
        "tensorflow_session_parallelism",
        "max_concurrent_requests",
        "large_request_bytes",
        "num_load_threads",
        "num_unload_threads",
        "max_num_load_retries",
        "num_request_iterations_for_warmup",
        "num_tflite_pools",
        "grpc_max_threads",
        "rest_api_num_threads",
    ):
        if getattr(args, name) < 0:
            raise ConfigError(f"--{name} must be 0 or more, got {getattr(args, name)}")
    if not 0 <= args.activation_sample_rate <= 1:
        raise ConfigError(
            f"--activation_sample_rate must be between 0 and 1, got {args.activation_sample_rate}"
        )
    if args.activation_max_samples_per_second < 0:
        raise ConfigError("--activation_max_samples_per_second must be 0 or more")
    if not 0 <= args.per_process_gpu_memory_fraction <= 1:
        raise ConfigError(
            "--per_process_gpu_memory_fraction must be between 0 and 1, got "
            f"{args.per_process_gpu_memory_fraction}"
        )

"""Command-line flags, named as tensorflow_model_server's, parsed into one frozen config.

Nothing else in the server reads `sys.argv` or the environment.
"""

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import Message
from tensorflow_serving.config import model_server_config_pb2

from service import __version__

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
"""What a model name may be: it appears in URLs and metric labels, never as a path."""


class ConfigError(Exception):
    """A flag or config file that does not make sense; the server refuses to start."""


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
    enable_batching: bool | None
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
    inference_threads: int


def parse_bool(text: str) -> bool:
    """absl's boolean spellings: --flag, --flag=true, --flag=false, --flag=1, --flag=0."""
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_channel_arguments(text: str) -> tuple[tuple[str, int | str], ...]:
    """`key=value,key=value` as tensorflow_model_server takes it; integer values become ints."""
    pairs: list[tuple[str, int | str]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
        pairs.append((key, int(value) if value.lstrip("-").isdigit() else value))
    return tuple(pairs)


def read_text_proto(path: str, message: Message, what: str) -> Message:
    """Parse a text-format protobuf file, naming the file and the problem when it fails."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from e
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as e:
        raise ConfigError(f"{what} {path} does not parse: {e}") from e


def read_model_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    """The ModelServerConfig in `path`, checked for what a server cannot serve."""
    config = read_text_proto(path, model_server_config_pb2.ModelServerConfig(), "model config")
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
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{where}: model names appear twice: {', '.join(duplicates)}")


def single_model_config(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
    """The config that --model_name/--model_base_path stand for."""
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add()
    entry.name, entry.base_path, entry.model_platform = name, base_path, "tensorflow"
    return config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="blockserve",
        description="Serve TensorFlow SavedModels over TensorFlow Serving's gRPC and REST APIs. "
        "Flags take tensorflow_model_server's names and meanings; `--flag=value` and "
        "`--flag value` both work.",
        allow_abbrev=False,
    )
    tfs = p.add_argument_group("tensorflow_model_server flags")
    flag = tfs.add_argument
    flag("--port", type=int, default=8500, help="gRPC port (default 8500)")
    flag(
        "--rest_api_port",
        type=int,
        default=8501,
        help="REST, health and /metrics port; 0 turns REST off (default 8501; "
        "tensorflow_model_server's default is 0)",
    )
    flag("--model_name", default="default", help="name of the one model (with --model_base_path)")
    flag("--model_base_path", default="", help="folder of the one model's numeric versions")
    flag("--model_config_file", default="", help="text-format ModelServerConfig; several models")
    flag(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0,
        help="re-read --model_config_file this often; 0 never (default 0)",
    )
    flag(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1,
        help="look for new versions this often (default 1)",
    )
    flag("--monitoring_config_file", default="", help="text-format MonitoringConfig")
    boolean = _boolean_adder(tfs)
    boolean(
        "--enable_batching",
        None,
        "true: batch every model not known to couple its rows (TensorFlow Serving's meaning); "
        "false: never batch; unset: batch the models whose export says their rows are "
        "independent",
    )
    flag("--batching_parameters_file", default="", help="text-format BatchingParameters")
    flag(
        "--grpc_channel_arguments",
        type=parse_channel_arguments,
        default=(),
        help="gRPC server options as key=value,key=value",
    )
    flag(
        "--rest_api_timeout_in_ms",
        type=int,
        default=30000,
        help="REST request timeout (default 30000)",
    )
    flag(
        "--saved_model_tags", default="serve", help="comma-separated tags of the MetaGraph to load"
    )
    boolean(
        "--enable_model_warmup",
        True,
        "warm each version up before it serves: replay its "
        "assets.extra/tf_serving_warmup_requests, or run each signature on a row of zeros",
    )
    boolean(
        "--allow_version_labels_for_unavailable_models",
        False,
        "let version_labels name versions that are not loaded",
    )
    flag("--ssl_config_file", default="", help="text-format SSLConfig: gRPC TLS and mutual TLS")

    own = p.add_argument_group("blockserve's own flags")
    flag = own.add_argument
    flag("--bind_address", default="0.0.0.0", help="address both ports listen on (default 0.0.0.0)")
    flag(
        "--max_request_bytes",
        type=int,
        default=64 << 20,
        help="largest request over gRPC or REST, in bytes (default 64 MiB)",
    )
    flag(
        "--max_rows_per_request",
        type=int,
        default=1 << 20,
        help="largest batch dimension one request may carry (default 1048576)",
    )
    flag(
        "--max_queued_requests",
        type=int,
        default=1024,
        help="requests waiting for a model beyond this are refused with RESOURCE_EXHAUSTED",
    )
    flag(
        "--max_concurrent_requests",
        type=int,
        default=0,
        help="requests in flight at once; beyond this they are refused with RESOURCE_EXHAUSTED "
        "(REST 429) before their message or body is read, which bounds memory under a flood; "
        "0: no limit (default)",
    )
    flag(
        "--shutdown_grace_seconds",
        type=float,
        default=30,
        help="on SIGTERM/SIGINT, how long requests in flight may take to finish (default 30)",
    )
    flag(
        "--max_parameter_series",
        type=int,
        default=1000,
        help="per-variable parameter metrics exported per model version at most (default 1000)",
    )
    flag("--rest_tls_cert_file", default="", help="PEM certificate: serve REST over HTTPS")
    flag("--rest_tls_key_file", default="", help="PEM private key for --rest_tls_cert_file")
    flag(
        "--admin_token_file",
        default="",
        help="file holding a token that HandleReloadConfigRequest must carry "
        "(gRPC metadata `authorization: Bearer TOKEN`)",
    )
    flag(
        "--inference_threads",
        type=int,
        default=4,
        help="threads that run TensorFlow calls (default 4)",
    )
    p.add_argument("--version", action="version", version=f"blockserve {__version__}")
    return p


def _boolean_adder(group: argparse._ArgumentGroup):
    def boolean(name: str, default: bool, help: str) -> None:
        group.add_argument(
            name, type=parse_bool, nargs="?", const=True, default=default, metavar="BOOL", help=help
        )

    return boolean


def parse(
    argv: list[str] | None = None,
) -> tuple[ServerConfig, model_server_config_pb2.ModelServerConfig]:
    """Flags into a ServerConfig and the initial model config; ConfigError or exit 2 on misuse."""
    args = build_parser().parse_args(argv)
    if args.model_config_file and args.model_base_path:
        raise ConfigError("give --model_config_file or --model_base_path, not both")
    if args.model_config_file:
        models = read_model_config(args.model_config_file)
    elif args.model_base_path:
        models = single_model_config(args.model_name, args.model_base_path)
    else:
        raise ConfigError("nothing to serve: give --model_config_file or --model_base_path")
    for name in ("port", "rest_api_port"):
        if not 0 <= getattr(args, name) <= 65535:
            raise ConfigError(f"--{name} must be a port number, got {getattr(args, name)}")
    if bool(args.rest_tls_cert_file) != bool(args.rest_tls_key_file):
        raise ConfigError("--rest_tls_cert_file and --rest_tls_key_file go together")
    for name in (
        "max_request_bytes",
        "max_rows_per_request",
        "max_queued_requests",
        "inference_threads",
    ):
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name} must be positive, got {getattr(args, name)}")
    if args.max_concurrent_requests < 0:
        raise ConfigError(
            f"--max_concurrent_requests must be 0 or more, got {args.max_concurrent_requests}"
        )
    tags = frozenset(t.strip() for t in args.saved_model_tags.split(",") if t.strip())
    fields = {
        f: getattr(args, f) for f in ServerConfig.__dataclass_fields__ if f != "saved_model_tags"
    }
    return ServerConfig(saved_model_tags=tags, **fields), models

"""tensorflow_model_server's flags and blockserve's own, as the command line takes them.

Every flag of tensorflow_model_server 2.21 (model_servers/main.cc) with its name, syntax
(`--flag=value`; booleans as `--flag`, `--flag=true`, `--flag=false`) and default; the few whose
default differs here say so in their help. Flags that mean nothing on this server are accepted
and listed as such. `service.front.config` turns what they say into the server's config.
"""

import argparse
import os

CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
"""tensorflow_model_server's NumSchedulableCPUs(), which several defaults scale with."""

NO_EFFECT = {
    "per_process_gpu_memory_fraction": "blockserve runs on CPUs only; there is no GPU memory",
    "xla_gpu_compilation_enabled": "blockserve runs on CPUs only (XLA on CPU: "
    "--xla_cpu_compilation_enabled)",
    "skip_initialize_tpu": "blockserve runs on CPUs only; there is no TPU to initialize",
    "flush_filesystem_caches": "TensorFlow Serving flushes TensorFlow's remote file-system caches "
    "(GCS, S3) after loads; blockserve reads models from local folders and keeps no such cache",
    "remove_unused_fields_from_bundle_metagraph": "blockserve never keeps a loaded MetaGraphDef, "
    "only its SignatureDefs, whatever this says",
    "thread_pool_factory_config_file": "per-request thread pools are a hook of TensorFlow's C++ "
    "Session that Python's TensorFlow does not offer; size the pools with "
    "--tensorflow_intra_op_parallelism/--tensorflow_inter_op_parallelism",
}
"""tensorflow_model_server flags accepted here without effect, and why."""

NO_EFFECT_DEFAULTS: dict[str, bool | float | str] = {
    "per_process_gpu_memory_fraction": 0.0,
    "xla_gpu_compilation_enabled": False,
    "skip_initialize_tpu": False,
    "flush_filesystem_caches": True,
    "remove_unused_fields_from_bundle_metagraph": True,
    "thread_pool_factory_config_file": "",
}
"""Their tensorflow_model_server defaults."""


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="blockserve",
        description="Serve TensorFlow SavedModels and TF Lite models over TensorFlow Serving's "
        "gRPC and REST APIs. Flags take tensorflow_model_server's names, syntax, defaults and "
        "meanings; `--flag=value` and `--flag value` both work. MODEL_NAME and MODEL_BASE_PATH "
        "in the environment stand in for --model_name and --model_base_path=MODEL_BASE_PATH/"
        "MODEL_NAME (MODEL_BASE_PATH defaults to /models), as in TensorFlow Serving's Docker "
        "image. A request's road: the front process (no TensorFlow) takes its bytes, admits it "
        "and forwards the bytes to the least busy TensorFlow worker process (--num_workers; "
        "requests of --large_request_bytes or more to a lane of their own), which decodes, "
        "checks, runs and encodes it; requests waiting together run in one looped call that "
        "computes each on its own (--enable_exact_batching), or share rows "
        "(--enable_batching).",
        usage="blockserve [--flag=value ...]  (python -m service)",
        allow_abbrev=False,
    )
    _add_serving_flags(p.add_argument_group("tensorflow_model_server flags: serving"))
    _add_model_flags(p.add_argument_group("tensorflow_model_server flags: models and loading"))
    _add_tensorflow_flags(p.add_argument_group("tensorflow_model_server flags: TensorFlow"))
    inert = p.add_argument_group(
        "tensorflow_model_server flags with no effect here (accepted; logged once when given)"
    )
    for name, why in NO_EFFECT.items():
        default = NO_EFFECT_DEFAULTS[name]
        kind = "BOOL" if isinstance(default, bool) else "VALUE"
        inert.add_argument(
            f"--{name}",
            type=_type_of(default),
            nargs="?" if isinstance(default, bool) else None,
            const=True if isinstance(default, bool) else None,
            default=default,
            metavar=kind,
            help=f"no effect: {why} (default {_show(default)})",
        )
    _add_own_flags(p.add_argument_group("blockserve's own flags"))
    p.add_argument(
        "--version",
        type=parse_bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="print the version and exit",
    )
    return p


def _type_of(default: object) -> type | object:
    if isinstance(default, bool):
        return parse_bool
    return type(default)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def _boolean_adder(group: argparse._ArgumentGroup):
    def boolean(name: str, default: bool, help: str) -> None:
        group.add_argument(
            name, type=parse_bool, nargs="?", const=True, default=default, metavar="BOOL", help=help
        )

    return boolean


def _add_serving_flags(group: argparse._ArgumentGroup) -> None:
    flag, boolean = group.add_argument, _boolean_adder(group)
    flag("--port", type=int, default=8500, help="gRPC port (default 8500)")
    flag(
        "--grpc_socket_path",
        default="",
        help="also serve gRPC on this UNIX socket (a relative or absolute path)",
    )
    flag(
        "--grpc_channel_arguments",
        type=parse_channel_arguments,
        default=(),
        help="gRPC server options as key=value,key=value",
    )
    flag(
        "--grpc_max_threads",
        type=int,
        default=0,
        help="gRPC calls worked on at once; further calls wait their turn. Default 0: no "
        "bound (tensorflow_model_server: 4 per CPU, for its handler threads; here a waiting "
        "call costs no thread, and the bound would cost every call and cap batching)",
    )
    boolean(
        "--enable_profiler",
        True,
        "serve tensorflow.ProfilerService on the gRPC port (TensorFlow's profiler, running in "
        "the workers: profiler_client.trace and TensorBoard's capture profile work against "
        "the gRPC address; it also listens on a port of its own picked at start-up)",
    )
    boolean(
        "--enable_grpc_healthcheck_service",
        True,
        "serve grpc.health.v1.Health on the gRPC port (default true, which Kubernetes probes "
        "rely on; tensorflow_model_server's default is false)",
    )
    flag("--ssl_config_file", default="", help="text-format SSLConfig: gRPC TLS and mutual TLS")
    boolean(
        "--use_alts_credentials",
        False,
        "secure gRPC with Google's ALTS (works on Google Cloud only; not with --ssl_config_file)",
    )
    flag(
        "--rest_api_port",
        type=int,
        default=8501,
        help="REST, health and /metrics port; 0 turns REST off (default 8501; "
        "tensorflow_model_server's default is 0)",
    )
    flag(
        "--rest_api_num_threads",
        type=int,
        default=0,
        help="REST requests worked on at once; further requests wait their turn. Default 0: "
        "no bound (tensorflow_model_server: 4 per CPU, for its handler threads)",
    )
    flag(
        "--rest_api_timeout_in_ms",
        type=int,
        default=30000,
        help="REST request timeout (default 30000)",
    )
    boolean(
        "--rest_api_enable_cors_support",
        False,
        "answer CORS preflight requests and add Access-Control-Allow-Origin to REST responses",
    )
    flag("--monitoring_config_file", default="", help="text-format MonitoringConfig")
    boolean(
        "--enable_serialization_as_tensor_content",
        False,
        "write Predict outputs as tensor_content bytes rather than typed value lists",
    )


def _add_model_flags(group: argparse._ArgumentGroup) -> None:
    flag, boolean = group.add_argument, _boolean_adder(group)
    flag(
        "--model_name",
        default=None,
        help="name of the one model (default $MODEL_NAME, else 'default'); ignored with "
        "--model_config_file",
    )
    flag(
        "--model_base_path",
        default=None,
        help="folder of the one model's numeric versions (default $MODEL_BASE_PATH/$MODEL_NAME "
        "when either is set); ignored with --model_config_file",
    )
    flag(
        "--model_config_file",
        default="",
        help="text-format ModelServerConfig; several models (wins over --model_base_path)",
    )
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
    boolean(
        "--allow_version_labels_for_unavailable_models",
        False,
        "let version_labels name versions that are not loaded",
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
    flag(
        "--num_request_iterations_for_warmup",
        type=int,
        default=0,
        help="run each recorded warm-up request this many times (used when > 0; default 0: once)",
    )
    flag(
        "--num_load_threads",
        type=int,
        default=0,
        help="versions loaded at once; 0 or 1 loads them one after another (default 0)",
    )
    flag(
        "--num_unload_threads",
        type=int,
        default=0,
        help="versions unloaded at once; 0 or 1 unloads them one after another (default 0)",
    )
    flag(
        "--max_num_load_retries",
        type=int,
        default=5,
        help="times a failed load is tried again before it is reported failed; 0: once (default 5)",
    )
    flag(
        "--load_retry_interval_micros",
        type=int,
        default=60_000_000,
        help="wait between load retries, in microseconds; negative: no wait (default 1 minute)",
    )
    boolean(
        "--prefer_tflite_model",
        False,
        "serve a version's model.tflite rather than its saved_model.pb when it has both "
        "(a version with only model.tflite is always served from it)",
    )
    flag(
        "--num_tflite_pools",
        type=int,
        default=CPUS,
        help=f"TF Lite calls one version runs at once (default one per CPU: {CPUS})",
    )
    flag(
        "--num_tflite_interpreters_per_pool",
        type=int,
        default=1,
        help="TF Lite interpreters per pool; above 1 a call's rows are split across them "
        "(default 1)",
    )
    boolean("--enable_batching", False, _ENABLE_BATCHING_HELP)
    flag("--batching_parameters_file", default="", help="text-format BatchingParameters")
    boolean(
        "--enable_per_model_batching_parameters",
        False,
        "with --enable_batching, read a version's own batching_params.pbtxt (BatchingParameters) "
        "from its folder in place of --batching_parameters_file",
    )
    boolean(
        "--enable_signature_method_name_check",
        False,
        "Classify and Regress only signatures whose method_name says so (TF1 exports); off, "
        "a predict signature whose outputs fit serves them too",
    )


_ENABLE_BATCHING_HELP = (
    "merge waiting requests of models not known to couple their rows into one TensorFlow "
    "call (default false: every request runs on its own, so its answer is bit for bit the "
    "model's own; merged rows can differ in the last bits, see README)"
)


def _add_tensorflow_flags(group: argparse._ArgumentGroup) -> None:
    flag, boolean = group.add_argument, _boolean_adder(group)
    flag(
        "--tensorflow_intra_op_parallelism",
        type=int,
        default=1,
        help="threads one TensorFlow op may use, per worker; 0 lets TensorFlow choose "
        "(default 1, measured best: see README)",
    )
    flag(
        "--tensorflow_inter_op_parallelism",
        type=int,
        default=1,
        help="ops TensorFlow runs at once, per worker; 0 lets TensorFlow choose (default 1)",
    )
    flag(
        "--tensorflow_session_parallelism",
        type=int,
        default=0,
        help="sets both of the above when neither is given (default 0: they keep theirs)",
    )
    flag(
        "--tensorflow_session_config_file",
        default="",
        help="text-format tensorflow.ConfigProto for the models' sessions; the parallelism "
        "flags above, when given, override its thread counts",
    )
    flag(
        "--platform_config_file",
        default="",
        help="text-format PlatformConfigMap; the tensorflow platform's session config is used "
        "in place of the session flags above",
    )
    boolean(
        "--xla_cpu_compilation_enabled",
        False,
        "let TensorFlow compile the models' graphs with XLA on the CPU (JIT auto-clustering)",
    )
    flag(
        "--mixed_precision",
        default="",
        help="'bfloat16': let TensorFlow rewrite the models' float32 math to bfloat16 where the "
        "CPU supports it (default '': off)",
    )


def _add_own_flags(group: argparse._ArgumentGroup) -> None:
    flag = group.add_argument
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
    flag(
        "--request_log_max_file_bytes",
        type=int,
        default=64 << 20,
        help="request logging (a model's logging_config): start a new log file once one would "
        "pass this size (default 64 MiB)",
    )
    flag("--rest_tls_cert_file", default="", help="PEM certificate: serve REST over HTTPS")
    flag("--rest_tls_key_file", default="", help="PEM private key for --rest_tls_cert_file")
    flag(
        "--admin_token_file",
        default="",
        help="file holding a token that HandleReloadConfigRequest must carry "
        "(gRPC metadata `authorization: Bearer TOKEN`)",
    )
    _boolean_adder(group)(
        "--enable_exact_batching",
        False,
        "run requests that wait together for one version and signature in one looped "
        "TensorFlow call that computes each on its own: answers bit for bit their own calls' "
        "(checked per signature at load), coupled models included. Off by default: on 2 cores "
        "it cost rate, measured (see README) (default false)",
    )
    flag(
        "--activation_sample_rate",
        type=float,
        default=0.01,
        help="live insight: the share of requests run a second time, after their answer went, "
        "through an instrumented call that yields every layer's output, for activation "
        "statistics and input drift; 0 turns it off (default 0.01)",
    )
    flag(
        "--activation_max_samples_per_second",
        type=float,
        default=20.0,
        help="live insight: sampled requests per second per version and worker at most, so "
        "that heavy traffic costs a bounded share of a core (default 20)",
    )
    flag(
        "--large_request_bytes",
        type=int,
        default=1 << 20,
        help="requests of this many bytes or more go to a TensorFlow worker of their own, so "
        "that small requests never wait behind one (one more process); 0: no such lane "
        "(default 1 MiB)",
    )
    flag(
        "--num_workers",
        type=int,
        default=1,
        help="TensorFlow worker processes; each loads every served version (default 1, "
        "measured best on 2 cores: see README)",
    )

"""How a worker opens model versions: the runtime's share of the server's flags."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeOptions:
    """Everything a worker needs to know to load and run a version, fixed at start-up.

    Plain values (it pickles to the workers); each field names the ServerConfig field it is.
    """

    saved_model_tags: frozenset[str] = frozenset({"serve"})
    enable_model_warmup: bool = True
    session_config: bytes = b""
    """A serialized tensorflow.ConfigProto (ServerConfig.session_config): the session of a TF1
    SavedModel gets it whole; it holds the thread counts of the parallelism flags."""
    xla_cpu_compilation_enabled: bool = False
    """Let TensorFlow compile graphs with XLA on the CPU (JIT auto-clustering)."""
    mixed_precision: str = ""
    """"bfloat16": TensorFlow's automatic bfloat16 rewrite of float32 math (oneDNN)."""
    num_request_iterations_for_warmup: int = 0
    """Run each recorded warm-up request this many times; 0 or 1: once."""
    prefer_tflite_model: bool = False
    """Serve model.tflite rather than saved_model.pb where a version has both."""
    num_tflite_pools: int = 1
    """TF Lite calls one version runs at once."""
    num_tflite_interpreters_per_pool: int = 1
    """Interpreters per pool; above 1, a call's rows are split across them."""
    profiler_port: int = 0
    """Where TensorFlow's profiler server listens in the worker (ServerConfig.enable_profiler;
    the front forwards tensorflow.ProfilerService there); 0: no profiler."""

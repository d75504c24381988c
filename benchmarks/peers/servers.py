"""Seldon MLServer and NVIDIA Triton (through PyTriton) as servers the benchmark starts.

Both serve the exported `mlp` SavedModel over the V2 protocol's gRPC ModelInfer:

- MLServer 1.7.1 with `mlserver_runtime.SavedModelRuntime`, its settings written into a folder
  of their own; defaults kept (one inference worker process) except `debug` off and the ports.
  Adaptive batching off (MLServer's default) or on: up to 64 requests merged, waiting at most
  1 ms for a batch to fill.
- Triton 2.51 (the binary in nvidia-pytriton 0.7.0) with PyTriton's Python backend,
  `triton_server.py`; dynamic batching on (up to 64 rows, Triton's default queue delay of 0).
"""

import json
from pathlib import Path

from benchmarks.peers.venvs import MLSERVER, TRITON
from benchmarks.servers import HOST, ROOT, Ports, ServerSpec

PEERS_DIR = ROOT / "benchmarks" / "peers"
MAX_BATCH_SIZE = 64
MLSERVER_MAX_BATCH_TIME = 0.001
"""Seconds MLServer's adaptive batcher waits for a batch to fill."""
READY_TIMEOUT = 300.0


def mlserver(cache: Path, model_dir: Path, work: Path, batching: bool) -> ServerSpec:
    state = "on" if batching else "off"
    folder = work / f"mlserver-batching-{state}"

    def command(ports: Ports) -> list[str]:
        write_mlserver_settings(folder, model_dir, ports, batching)
        return [str(MLSERVER.path(cache) / "bin" / "mlserver"), "start", str(folder)]

    return ServerSpec(
        key=f"mlserver_batching_{state}",
        title=f"MLServer, adaptive batching {state}",
        command=command,
        family="mlserver",
        protocol="v2",
        # MLServer imports the runtime by its dotted name, in its workers as well.
        env=(("PYTHONPATH", str(PEERS_DIR)),),
        ready_timeout=READY_TIMEOUT,
        peer=True,
    )


def write_mlserver_settings(folder: Path, model_dir: Path, ports: Ports, batching: bool) -> None:
    """settings.json (the server) and mlp/model-settings.json (the model) under `folder`."""
    model = folder / "mlp"
    model.mkdir(parents=True, exist_ok=True)
    server = {
        "debug": False,
        "host": HOST,
        "grpc_port": ports.grpc,
        "http_port": ports.http,
        "metrics_port": ports.metrics,
        "metrics_dir": str(folder / "metrics"),
        "environments_dir": str(folder / "environments"),
    }
    settings = {
        "name": "mlp",
        "implementation": "mlserver_runtime.SavedModelRuntime",
        "parameters": {"uri": str(model_dir), "version": model_dir.name},
    }
    if batching:
        settings |= {"max_batch_size": MAX_BATCH_SIZE, "max_batch_time": MLSERVER_MAX_BATCH_TIME}
    (folder / "settings.json").write_text(json.dumps(server, indent=2) + "\n")
    (model / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n")


def triton(cache: Path, model_dir: Path) -> ServerSpec:
    return ServerSpec(
        key="triton",
        title="Triton (PyTriton), dynamic batching on",
        command=lambda ports: [
            str(TRITON.python(cache)),
            str(PEERS_DIR / "triton_server.py"),
            f"--model_dir={model_dir}",
            f"--grpc_port={ports.grpc}",
            f"--http_port={ports.http}",
            f"--metrics_port={ports.metrics}",
            f"--max_batch_size={MAX_BATCH_SIZE}",
        ],
        family="triton",
        protocol="v2",
        ready_timeout=READY_TIMEOUT,
        peer=True,
    )

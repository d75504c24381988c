"""A worker's stderr as the front passes it on: TensorFlow's start-up noise on a CPU-only
machine dropped, every other line (Python's logging, TensorFlow's warnings and errors, a
crash's last words) written to the front's stderr as it comes.

The front reads it, not the worker: a worker that aborts cannot lose what it wrote last.
"""

import asyncio
import os
import re
import sys

NOISE = re.compile(
    rb"oneDNN custom operations are on"
    rb"|Could not find cuda drivers on your machine"
    rb"|failed call to cuInit"
    rb"|All log messages before absl::InitializeLog\(\) is called"
    rb"|Unable to register cu(DNN|FFT|BLAS) factory"
    rb"|computation placer already registered"
    rb"|TF-TRT Warning"
)
"""Lines that say nothing to an operator of a CPU server: oneDNN's notice (blockserve's
exactness is about the call's rows, not oneDNN), and the GPU probes that fail where there is no
GPU (TensorFlow probes whether or not one is asked for)."""


def no_gpu_environment() -> dict[str, str]:
    """The workers' environment: where the machine has no NVIDIA device and the operator set
    nothing, CUDA is hidden so that TensorFlow does not probe for it."""
    environ = dict(os.environ)
    if "CUDA_VISIBLE_DEVICES" not in environ and not os.path.exists("/dev/nvidia0"):
        environ["CUDA_VISIBLE_DEVICES"] = ""
    return environ


class WorkerLog(asyncio.Protocol):
    """Reads one worker's stderr pipe on the front's event loop."""

    def __init__(self) -> None:
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        kept = [line for line in lines if not NOISE.search(line)]
        if kept:
            sys.stderr.buffer.write(b"\n".join(kept) + b"\n")
            sys.stderr.buffer.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._partial and not NOISE.search(self._partial):
            sys.stderr.buffer.write(self._partial + b"\n")
            sys.stderr.buffer.flush()

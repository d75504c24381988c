"""NVIDIA Triton serving one SavedModel through PyTriton's Python backend, dynamic batching on.

    <triton venv>/bin/python benchmarks/peers/triton_server.py --model_dir exported/mlp/1 \
        --grpc_port 8001 --http_port 8000 --metrics_port 8002

Runs in the Triton peer's own venv (`benchmarks.peers.venvs`), never the project's. PyTriton
starts the `tritonserver` binary its wheel ships; Triton's Python backend stub hands every batch
to `infer` below over PyTriton's proxy, and `infer` calls the SavedModel's serving_default
signature on the whole batch, as a user of PyTriton would write it.

PyTriton 0.7.0's stub embeds a libpython whose C `RLock` has no `_recursion_count`, which
Python 3.11.7's multiprocessing resource tracker calls; the proxy fails on it unless that
tracker's lock is the pure-Python `threading._PyRLock`, which has the method. The stub runs this
venv's `sitecustomize`, so the launcher puts that one-line swap there (`patch_resource_tracker`)
before Triton starts: the fix lives in the peer's venv, not in PyTriton's files or the project.
"""

import argparse
import logging
import os
import signal
import site
import sys
import threading
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SITECUSTOMIZE = '''"""Written by blockserve's benchmarks/peers/triton_server.py: see there why."""
import multiprocessing.resource_tracker as _tracker
import threading as _threading

if not hasattr(_tracker._resource_tracker._lock, "_recursion_count"):
    _tracker._resource_tracker._lock = _threading._PyRLock()
'''


def patch_resource_tracker() -> None:
    """The tracker's lock swap, for this process and (via sitecustomize) every process of this
    venv's Python, the backend stub included."""
    import multiprocessing.resource_tracker as tracker

    if not hasattr(tracker._resource_tracker._lock, "_recursion_count"):
        tracker._resource_tracker._lock = threading._PyRLock()
    path = Path(site.getsitepackages()[0]) / "sitecustomize.py"
    if not path.exists() or path.read_text() != SITECUSTOMIZE:
        path.write_text(SITECUSTOMIZE)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model_dir", required=True, help="one SavedModel version folder")
    p.add_argument("--model_name", default="mlp")
    p.add_argument("--grpc_port", type=int, required=True)
    p.add_argument("--http_port", type=int, required=True)
    p.add_argument("--metrics_port", type=int, required=True)
    p.add_argument("--max_batch_size", type=int, default=64)
    p.add_argument("--max_queue_delay_us", type=int, default=0, help="Triton's default, 0")
    args = p.parse_args(argv)
    patch_resource_tracker()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import numpy as np
    import tensorflow as tf
    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    signature = tf.saved_model.load(args.model_dir).signatures["serving_default"]
    (input_name, input_spec), *_ = signature.structured_input_signature[1].items()
    output_names = sorted(signature.structured_outputs)

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        outputs = signature(**{name: tf.constant(x) for name, x in inputs.items()})
        return {name: t.numpy() for name, t in outputs.items()}

    config = TritonConfig(
        grpc_address="127.0.0.1",
        http_address="127.0.0.1",
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
    )
    with Triton(config=config) as triton:
        triton.bind(
            model_name=args.model_name,
            infer_func=infer,
            inputs=[Tensor(name=input_name, dtype=np.float32, shape=tuple(input_spec.shape[1:]))],
            outputs=[Tensor(name=name, dtype=np.float32, shape=(-1,)) for name in output_names],
            config=ModelConfig(
                max_batch_size=args.max_batch_size,
                batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_queue_delay_us),
            ),
            strict=False,
        )
        signal.signal(signal.SIGTERM, lambda *_: triton.stop())
        triton.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

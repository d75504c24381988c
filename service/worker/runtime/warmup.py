"""Warming a loaded version up before it serves, as TensorFlow Serving does: replay the
version's assets.extra/tf_serving_warmup_requests, or run each signature on a row of zeros."""

import logging
from pathlib import Path
from typing import Protocol

import numpy as np
import tensorflow as tf

from service.protos.tensorflow_serving.apis import prediction_log_pb2
from service.shared.codecs.examples import serialized_examples
from service.shared.codecs.tensors import to_numpy
from service.shared.signature import DEFAULT_SIGNATURE, Signature

log = logging.getLogger(__name__)

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_BYTES = 1 << 30


class Runnable(Protocol):
    """What warm-up needs of a loaded version (SavedModel or TF Lite)."""

    name: str
    version: int
    path: Path
    signatures: dict[str, Signature]

    def run(
        self, signature: str, inputs: dict[str, np.ndarray], outputs: tuple[str, ...]
    ) -> dict[str, np.ndarray]: ...


def warm_up(model: Runnable, iterations: int = 1) -> None:
    """Make the first requests fast: replay the recorded warm-up requests (each `iterations`
    times) where the version has them, else run each signature once on one row of zeros."""
    records = model.path / WARMUP_FILE
    if records.is_file():
        replay(model, records, iterations)
        return
    for sig in model.signatures.values():
        specs = sig.inputs.values()
        if not specs or any(
            s.shape is None or s.dtype is None or s.dtype == object or -1 in s.shape[1:]
            for s in specs
        ):
            continue
        zeros = {s.name: np.zeros((1, *s.shape[1:]), s.dtype) for s in specs}
        try:
            model.run(sig.name, zeros, ())
        except Exception as e:  # a model may reject zeros; real requests will tell
            log.info("warm-up of %s/%d %s skipped: %s", model.name, model.version, sig.name, e)


def replay(model: Runnable, records: Path, iterations: int = 1) -> None:
    """Run every PredictionLog in a TFRecord file; a failure fails the load, as in
    TensorFlow Serving."""
    for record in tf.data.TFRecordDataset(str(records)):
        entry = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        kind = entry.WhichOneof("log_type")
        if kind == "predict_log":
            request = entry.predict_log.request
            inputs = {
                k: to_numpy(v, f"warm-up input {k!r}", MAX_WARMUP_BYTES)
                for k, v in request.inputs.items()
            }
            outputs = tuple(request.output_filter)
        elif kind in ("classify_log", "regress_log"):
            request = getattr(entry, kind).request
            signature = model.signatures[request.model_spec.signature_name or DEFAULT_SIGNATURE]
            (name,) = signature.inputs
            inputs = {name: np.array(serialized_examples(request.input), dtype=object)}
            outputs = ()
        elif kind == "multi_inference_log":
            request = entry.multi_inference_log.request
            examples = np.array(serialized_examples(request.input), dtype=object)
            for task in request.tasks:
                signature = model.signatures[task.model_spec.signature_name or DEFAULT_SIGNATURE]
                (name,) = signature.inputs
                for _ in range(max(1, iterations)):
                    model.run(signature.name, {name: examples}, ())
            continue
        else:
            log.info(
                "warm-up of %s/%d: %s records are not replayed", model.name, model.version, kind
            )
            continue
        for _ in range(max(1, iterations)):
            model.run(request.model_spec.signature_name or DEFAULT_SIGNATURE, inputs, outputs)

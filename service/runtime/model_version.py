"""One loaded version of a model: the only place that loads SavedModels and calls TensorFlow."""

import gc
import logging
import re
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from service.errors import CANONICAL_CODES, InvalidArgument, ModelError
from service.examples import serialized_examples
from service.inspection import InspectionError, ParameterSet, find_parameters, summarize
from service.protos.blockserve.v1 import inspection_pb2
from service.runtime.call import signature_call
from service.runtime.facts import ExportFacts, read_facts
from service.runtime.signature import (
    DEFAULT_SIGNATURE,
    Signature,
    read_meta_graph,
    read_signatures,
)
from service.tensors import to_numpy

log = logging.getLogger(__name__)

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_BYTES = 1 << 30


class ModelVersion:
    """A SavedModel version in memory, ready to run its signatures."""

    def __init__(self, name: str, version: int, path: Path, tags: frozenset[str]) -> None:
        started = time.perf_counter()
        self.name = name
        self.version = version
        self.path = path
        graph = read_meta_graph((path / "saved_model.pb").read_bytes(), tags)
        self.signatures: dict[str, Signature] = read_signatures(graph.signature_def)
        self.facts: ExportFacts = read_facts(path)
        self._loaded = tf.saved_model.load(str(path), tags=sorted(tags))
        self._calls = {
            name: signature_call(self._loaded.signatures[name]) for name in self.signatures
        }
        self.parameters: ParameterSet | None = None
        self.summary: inspection_pb2.ParameterSummary | None = None
        self.summary_problem = ""
        try:
            self.parameters = find_parameters(path, tags)
            self.summary = summarize(path, name, version, tags)
        except InspectionError as e:  # the model still serves; only its summary is missing
            self.summary_problem = str(e)
            log.warning("no parameter summary for %s version %d: %s", name, version, e)
        self.load_seconds = time.perf_counter() - started

    def run(
        self, signature: str, inputs: dict[str, np.ndarray], outputs: tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        """Call a signature; `outputs` names what to return (all of them when empty)."""
        call = self._calls[signature]
        expected = self.signatures[signature].inputs
        if inputs.keys() != expected.keys():
            raise InvalidArgument(
                f"{self.name} signature {signature} takes inputs {sorted(expected)}, "
                f"got {sorted(inputs)}"
            )
        try:
            result = call(inputs)
        except tf.errors.OpError as e:
            raise ModelError(CANONICAL_CODES[e.error_code], _first_line(e.message)) from None
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"{self.name} signature {signature}: {e}") from None
        wanted = outputs or tuple(result)
        return {k: result[k].numpy() for k in wanted}

    def warm_up(self) -> None:
        """Make the first requests fast: replay the SavedModel's recorded warm-up requests
        (TensorFlow Serving's assets.extra/tf_serving_warmup_requests) where it has them, else
        run each signature once on one row of zeros."""
        records = self.path / WARMUP_FILE
        if records.is_file():
            self._replay(records)
            return
        for sig in self.signatures.values():
            specs = sig.inputs.values()
            if not specs or any(
                s.shape is None or s.dtype is None or s.dtype == object or -1 in s.shape[1:]
                for s in specs
            ):
                continue
            zeros = {s.name: np.zeros((1, *s.shape[1:]), s.dtype) for s in specs}
            try:
                self.run(sig.name, zeros, ())
            except Exception as e:  # a model may reject zeros; real requests will tell
                log.info("warm-up of %s/%d %s skipped: %s", self.name, self.version, sig.name, e)

    def _replay(self, records: Path) -> None:
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
                (name,) = self.signatures[
                    request.model_spec.signature_name or DEFAULT_SIGNATURE
                ].inputs
                inputs = {name: np.array(serialized_examples(request.input), dtype=object)}
                outputs = ()
            else:
                log.info(
                    "warm-up of %s/%d: %s records are not replayed", self.name, self.version, kind
                )
                continue
            self.run(request.model_spec.signature_name or DEFAULT_SIGNATURE, inputs, outputs)

    def close(self) -> None:
        """Drop the TensorFlow objects so their memory can be returned."""
        self._calls.clear()
        self._loaded = None
        gc.collect()


# What TensorFlow wraps around an op's error: a header, where the node was defined, its name.
_WRAPPING = re.compile(r"Graph execution error:|Detected at node|<stack traces unavailable>|Node: ")
_NODE_TAGS = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]$")


def _first_line(message: str) -> str:
    """The line of TensorFlow's message that says what went wrong, e.g. `indices[1] = 7 is not
    in [0, 3)`, without the header, the call stack and the node tags around it."""
    for line in message.splitlines():
        if line[:1].isspace() or _WRAPPING.match(line):
            continue
        line = _NODE_TAGS.sub("", line).strip()
        if line:
            return line
    return message.strip().split("\n")[0]

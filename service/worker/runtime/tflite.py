"""One loaded TF Lite version (`model.tflite`), served through TensorFlow's own TF Lite
interpreter with ModelVersion's interface, as TensorFlow Serving serves it.

Signatures come from the model's `signature_defs_metadata` (TensorFlow Serving's SignatureDefs,
stored by TF Lite's signature_def_util); a model without them gets TensorFlow Serving's default:
one `serving_default` predict signature keyed by the input and output tensor names, without a
`:0` suffix. Calls take an interpreter pool at a time (--num_tflite_pools of them); with more
than one interpreter per pool (--num_tflite_interpreters_per_pool), a call's rows are split
across the pool's interpreters and run at once.
"""

import logging
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import SimpleQueue

import numpy as np
import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.lite.python import schema_py_generated as schema

from service.inspection.parameters import Parameter, ParameterKind, ParameterSet, TfLiteTensor
from service.inspection.summary import summarize_parameters
from service.protos.blockserve.v1 import inspection_pb2
from service.protos.tensorflow.core.protobuf import config_pb2, meta_graph_pb2
from service.shared.errors import InvalidArgument, ModelError
from service.shared.facts import ExportFacts, read_facts
from service.shared.options import RuntimeOptions
from service.shared.signature import DEFAULT_SIGNATURE, PREDICT, Signature, read_signatures
from service.worker.runtime.warmup import warm_up

log = logging.getLogger(__name__)

TFLITE_FILE = "model.tflite"
SIGNATURE_DEFS_METADATA = b"signature_defs_metadata"


class TfLiteVersion:
    """A TF Lite version in memory, ready to run its signatures."""

    platform = "tensorflow_lite"
    """What ModelServerConfig's model_platform and V2's metadata call this format."""

    def __init__(self, name: str, version: int, path: Path, options: RuntimeOptions) -> None:
        started = time.perf_counter()
        self.name = name
        self.version = version
        self.path = path
        content = (path / TFLITE_FILE).read_bytes()
        model = schema.Model.GetRootAs(content, 0)
        threads = config_pb2.ConfigProto.FromString(options.session_config)
        per_pool = max(1, options.num_tflite_interpreters_per_pool)
        self._pools: SimpleQueue[list[_Interpreter]] = SimpleQueue()
        first = None
        for _ in range(max(1, options.num_tflite_pools)):
            pool = [
                _Interpreter(content, threads.intra_op_parallelism_threads) for _ in range(per_pool)
            ]
            first = first or pool[0]
            self._pools.put(pool)
        assert first is not None
        self._split = (
            ThreadPoolExecutor(per_pool * options.num_tflite_pools, thread_name_prefix="tflite")
            if per_pool > 1
            else None
        )
        self._per_pool = per_pool
        definitions, self._feeds, self._fetches = _signatures(model, content, first.interpreter)
        self.signatures: dict[str, Signature] = read_signatures(definitions)
        self.facts: ExportFacts = read_facts(path)
        self._warmup_iterations = max(1, options.num_request_iterations_for_warmup)
        self.parameters: ParameterSet | None = None
        self.summary: inspection_pb2.ParameterSummary | None = None
        self.summary_problem = ""
        try:
            parameters, values = _constants(model, first.interpreter)
            self.parameters = ParameterSet(path, (), tuple(parameters))
            self.summary = summarize_parameters(parameters, values, name, version)
        except Exception as e:  # the model still serves; only its summary is missing
            self.summary_problem = f"cannot read the TF Lite model's weights: {e}"
            log.warning("no parameter summary for %s version %d: %s", name, version, e)
        self.load_seconds = time.perf_counter() - started

    def run(
        self, signature: str, inputs: dict[str, np.ndarray], outputs: tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        """Call a signature; `outputs` names what to return (all of them when empty)."""
        feeds, fetches = self._feeds[signature], self._fetches[signature]
        if inputs.keys() != feeds.keys():
            raise InvalidArgument(
                f"{self.name} signature {signature} takes inputs {sorted(feeds)}, "
                f"got {sorted(inputs)}"
            )
        wanted = outputs or tuple(fetches)
        feed = [(feeds[k], np.ascontiguousarray(v)) for k, v in inputs.items()]
        fetch = [fetches[k] for k in wanted]
        pool = self._pools.get()
        try:
            results = self._invoke(pool, feed, fetch)
        except ValueError as e:  # a dtype or shape TF Lite cannot take
            raise InvalidArgument(f"{self.name} signature {signature}: {e}") from None
        except RuntimeError as e:  # the model's own failure, shape errors among them
            raise ModelError(
                "INVALID_ARGUMENT", f"{self.name} signature {signature}: {e}"
            ) from None
        finally:
            self._pools.put(pool)
        return dict(zip(wanted, results, strict=True))

    def _invoke(
        self, pool: list["_Interpreter"], feed: list[tuple[int, np.ndarray]], fetch: list[int]
    ) -> list[np.ndarray]:
        rows = {a.shape[0] if a.ndim else None for _, a in feed}
        if self._split is None or len(rows) != 1 or (count := rows.pop()) is None or count < 2:
            return pool[0].invoke(feed, fetch)
        parts = min(len(pool), count)
        chunks = [np.array_split(a, parts) for _, a in feed]
        jobs = [
            self._split.submit(
                pool[i].invoke,
                [(index, c[i]) for (index, _), c in zip(feed, chunks, strict=True)],
                fetch,
            )
            for i in range(parts)
        ]
        answers = [job.result() for job in jobs]
        return [np.concatenate([a[k] for a in answers]) for k in range(len(fetch))]

    def warm_up(self) -> None:
        """Make the first requests fast (see service.worker.runtime.warmup)."""
        warm_up(self, self._warmup_iterations)

    def close(self) -> None:
        """Drop the interpreters so their memory can be returned."""
        if self._split is not None:
            self._split.shutdown(wait=True)
        while not self._pools.empty():
            self._pools.get()


class _Interpreter:
    """One TF Lite interpreter, and the input shapes its tensors are allocated for."""

    def __init__(self, content: bytes, threads: int) -> None:
        with warnings.catch_warnings():  # "deprecated": TF 2.21 still ships it, and it is TF's own
            warnings.simplefilter("ignore", UserWarning)
            self.interpreter = tf.lite.Interpreter(
                model_content=content, num_threads=threads or None
            )
        self.interpreter.allocate_tensors()
        self._shapes: dict[int, tuple[int, ...]] = {}

    def invoke(self, feed: list[tuple[int, np.ndarray]], fetch: list[int]) -> list[np.ndarray]:
        interpreter = self.interpreter
        try:
            resized = False
            for index, array in feed:
                if self._shapes.get(index) != array.shape:
                    interpreter.resize_tensor_input(index, array.shape, strict=False)
                    self._shapes[index] = array.shape
                    resized = True
            if resized:
                interpreter.allocate_tensors()
            for index, array in feed:
                interpreter.set_tensor(index, array)
            interpreter.invoke()
        except Exception:
            self._shapes.clear()  # resize everything on the next call
            raise
        return [interpreter.get_tensor(index) for index in fetch]


def _signatures(
    model: schema.Model, content: bytes, interpreter: tf.lite.Interpreter
) -> tuple[
    dict[str, meta_graph_pb2.SignatureDef], dict[str, dict[str, int]], dict[str, dict[str, int]]
]:
    """The SignatureDefs, and per signature the tensor index of each input and output key."""
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    outputs = {d["name"]: d for d in interpreter.get_output_details()}
    definitions = _recorded_signatures(model, content)
    if not definitions:
        log.info("no signature defs in the TF Lite model; serving %s", DEFAULT_SIGNATURE)
        default = meta_graph_pb2.SignatureDef(method_name=PREDICT)
        for details, infos in ((inputs, default.inputs), (outputs, default.outputs)):
            for tensor_name, detail in details.items():
                infos[_legacy_name(tensor_name)].CopyFrom(_tensor_info(detail))
        definitions = {DEFAULT_SIGNATURE: default}
    feeds, fetches = {}, {}
    for key, definition in definitions.items():
        feeds[key] = _indices(key, definition.inputs, inputs, "input")
        fetches[key] = _indices(key, definition.outputs, outputs, "output")
    return definitions, feeds, fetches


def _recorded_signatures(
    model: schema.Model, content: bytes
) -> dict[str, meta_graph_pb2.SignatureDef]:
    for i in range(model.MetadataLength()):
        metadata = model.Metadata(i)
        if metadata.Name() != SIGNATURE_DEFS_METADATA:
            continue
        entries = flexbuffers.GetRoot(_buffer_bytes(model, content, metadata.Buffer())).AsMap
        return {
            key.AsKey: meta_graph_pb2.SignatureDef.FromString(value.AsStringBytes)
            for key, value in zip(entries.Keys, entries.Values, strict=True)
        }
    return {}


def _indices(
    signature: str,
    infos: "dict[str, meta_graph_pb2.TensorInfo]",
    tensors: dict[str, dict],
    what: str,
) -> dict[str, int]:
    """Each key's tensor index, trying the legacy name (no `:0`) as TensorFlow Serving does."""
    found = {}
    for key, info in infos.items():
        detail = tensors.get(info.name) or tensors.get(_legacy_name(info.name))
        if detail is None:
            raise ValueError(
                f"signature {signature!r} {what} {key!r} names tensor {info.name!r}, which the "
                f"TF Lite model does not have as an {what} (it has {sorted(tensors)})"
            )
        found[key] = detail["index"]
    return found


def _legacy_name(tensor_name: str) -> str:
    return tensor_name.partition(":")[0]


def _tensor_info(detail: dict) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(
        name=detail["name"], dtype=tf.as_dtype(detail["dtype"]).as_datatype_enum
    )
    for size in detail["shape"]:
        info.tensor_shape.dim.add(size=int(size))
    return info


def _buffer_bytes(model: schema.Model, content: bytes, index: int) -> bytes:
    buffer = model.Buffers(index)
    if buffer.Offset() > 1:  # stored after the flatbuffer (models over 2 GB)
        return content[buffer.Offset() : buffer.Offset() + buffer.Size()]
    return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""


class _ConstantValues:
    """Reads a TF Lite constant's values for a parameter summary."""

    def __init__(self, interpreter: tf.lite.Interpreter) -> None:
        self._interpreter = interpreter

    def read(self, parameter: Parameter) -> np.ndarray:
        assert isinstance(parameter.source, TfLiteTensor)
        return self._interpreter.get_tensor(parameter.source.index)


def _constants(
    model: schema.Model, interpreter: tf.lite.Interpreter
) -> tuple[list[Parameter], _ConstantValues]:
    """The weight tensors of the main subgraph: the tensors whose values the model holds."""
    graph = model.Subgraphs(0)
    ends = {*graph.InputsAsNumpy().tolist(), *graph.OutputsAsNumpy().tolist()}
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    found = []
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        buffer = model.Buffers(tensor.Buffer())
        if index in ends or index not in details or not (buffer.DataLength() or buffer.Size()):
            continue
        dtype = np.dtype(details[index]["dtype"])
        if dtype.kind not in "fiub":
            continue
        layer, _, leaf = tensor.Name().decode(errors="replace").rpartition("/")
        shape = tuple(int(s) for s in details[index]["shape"])
        found.append(
            Parameter(layer, leaf, ParameterKind.CONSTANT, shape, dtype.name, TfLiteTensor(index))
        )
    return found, _ConstantValues(interpreter)

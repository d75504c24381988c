"""A signature's instrumented variant: the same computation, also yielding every layer's output.

Built from the graph the version already loaded, never by exporting anything again:
- TF2: the signature's function usually only calls the model's function; its FunctionDef is
  rebuilt as a graph (function_def_to_graph) and pruned (WrappedFunction.prune) to fetch the
  layer tensors beside the outputs, then called with the same captured variables the signature
  uses, by TensorFlow's eager execute as service.worker.runtime.call does.
- TF1: the version's own Session runs a callable that fetches the layer tensors too.
- TF Lite: an interpreter of its own with experimental_preserve_all_tensors, reading every
  operator's output after the invoke.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python import pywrap_tfe
from tensorflow.python.eager import context, core, wrap_function
from tensorflow.python.framework import function_def_to_graph

from service.insight.layers import GraphLayers, find_layers
from service.shared.signature import Signature
from service.worker.runtime.graph_session import GraphSession
from service.worker.runtime.tflite import TFLITE_FILE

_CALLS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})


class NotInstrumentable(Exception):
    """Why a signature has no instrumented variant; the model still serves."""


@dataclass(frozen=True)
class Activations:
    """What one instrumented call yields."""

    layers: list[np.ndarray]
    """In the order of InstrumentedCall.paths."""
    loop_iterations: list[int]


@dataclass(frozen=True)
class InstrumentedCall:
    """One signature's layers and the call that computes them."""

    paths: tuple[str, ...]
    run: Callable[[dict[str, np.ndarray]], Activations]


def instrument(model: Any, signature: str) -> InstrumentedCall:
    """The instrumented variant of `signature` of a loaded ModelVersion or TfLiteVersion."""
    if getattr(model, "platform", "") == "tensorflow_lite":
        return _tflite(model, signature)
    loaded = model._loaded
    if isinstance(loaded, GraphSession):
        return _session(loaded, model.signatures[signature])
    return _function(loaded.signatures[signature])


def _function(fn: Any) -> InstrumentedCall:
    graph, sources = _model_graph(fn)
    names, nargs = _input_names(fn), len(fn.inputs) - len(fn.captured_inputs)
    fed = [t for t, i in zip(graph.inputs, sources, strict=True) if i < nargs]
    layers = find_layers(graph.get_operations(), fed, graph.outputs)
    if not layers.tensors:
        raise NotInstrumentable("no layer outputs found between the inputs and outputs")
    fetches = [*layers.tensors, *layers.loop_counters]
    wrapped = wrap_function.WrappedFunction(graph, wrap_function.VariableHolder())
    pruned = wrapped.prune(feeds=list(graph.inputs), fetches=fetches)
    execute = _executor(pruned, len(fetches))
    captured = list(fn.captured_inputs)
    count = len(layers.tensors)

    def run(inputs: dict[str, np.ndarray]) -> Activations:
        flat = [
            tf.constant(inputs[names[i]]) if i < nargs else captured[i - nargs] for i in sources
        ]
        results = [t.numpy() for t in execute(flat)]
        return Activations(results[:count], [int(v) for v in results[count:]])

    return InstrumentedCall(layers.paths, run)


def _model_graph(fn: Any) -> tuple[Any, list[int]]:
    """The graph that holds the model's ops, and for each of its inputs the position among the
    signature's flat inputs (user inputs, then captures) that feeds it.

    A signature function that only calls another function (as Keras' export and
    tf.saved_model.save write them) is followed into it, as deep as that goes.
    """
    library = {f.signature.name: f for f in fn.graph.as_graph_def().library.function}
    position = {t.name: i for i, t in enumerate(fn.inputs)}
    graph = fn.graph
    sources = [position[t.name] for t in graph.inputs]
    while True:
        calls = [op for op in graph.get_operations() if op.type in _CALLS]
        if len(calls) != 1 or calls[0].get_attr("f").name not in library:
            break
        (call,) = calls
        placeholders = {t.name: i for i, t in enumerate(graph.inputs)}
        if not all(t.name in placeholders for t in call.inputs):
            break
        inner = function_def_to_graph.function_def_to_graph(library[call.get_attr("f").name])
        if len(inner.inputs) != len(call.inputs):
            break
        sources = [sources[placeholders[t.name]] for t in call.inputs]
        graph = inner
    return graph, sources


def _input_names(fn: Any) -> list[str]:
    """The signature's input names in the order of its flat inputs."""
    _, kwargs = fn.structured_input_signature
    return sorted(kwargs)  # a dict flattens in sorted key order


def _executor(pruned: Any, outputs: int) -> Callable[[list[Any]], list[tf.Tensor]]:
    """Call a pruned function straight through TensorFlow's eager execute (see
    service.worker.runtime.call: the ordinary __call__ costs several times as much)."""
    eager = context.context()
    eager.ensure_initialized()
    function = pruned._inference_function
    name = function.name if isinstance(function.name, bytes) else function.name.encode()
    attrs = (
        "executor_type",
        "",
        "config_proto",
        eager.function_call_options.config_proto_serialized,
    )
    captured = list(pruned.captured_inputs)
    registered = False

    def execute(flat: list[Any]) -> list[tf.Tensor]:
        nonlocal registered
        if not registered:  # the ordinary call registers the function with the runtime
            registered = True
            return pruned(*flat)
        try:
            return pywrap_tfe.TFE_Py_Execute(
                eager._handle, None, name, [*flat, *captured], attrs, outputs
            )
        except core._NotOkStatusException as e:
            raise core._status_to_exception(e) from None

    return execute


def _session(session: GraphSession, signature: Signature) -> InstrumentedCall:
    graph = session.graph
    feeds = sorted(signature.inputs)
    fetches = sorted(signature.outputs)
    definition = signature.definition
    feed_tensors = [graph.get_tensor_by_name(definition.inputs[k].name) for k in feeds]
    fetch_tensors = [graph.get_tensor_by_name(definition.outputs[k].name) for k in fetches]
    layers: GraphLayers = find_layers(graph.get_operations(), feed_tensors, fetch_tensors)
    if not layers.tensors:
        raise NotInstrumentable("no layer outputs found between the inputs and outputs")
    options = config_pb2.CallableOptions(
        feed=[t.name for t in feed_tensors], fetch=[t.name for t in layers.tensors]
    )
    call = session.session._make_callable_from_options(options)

    def run(inputs: dict[str, np.ndarray]) -> Activations:
        return Activations(list(call(*[inputs[k] for k in feeds])), [])

    return InstrumentedCall(layers.paths, run)


def _tflite(model: Any, signature: str) -> InstrumentedCall:
    with warnings.catch_warnings():  # deprecation and "for debugging": both TF's own, both known
        warnings.simplefilter("ignore", UserWarning)
        interpreter = tf.lite.Interpreter(
            model_path=str(model.path / TFLITE_FILE),
            num_threads=1,
            experimental_preserve_all_tensors=True,
        )
    interpreter.allocate_tensors()
    feeds = model._feeds[signature]
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    outputs: dict[int, str] = {}
    for op in interpreter._get_ops_details():
        for index in op["outputs"]:
            detail = tensors.get(int(index))
            if detail is not None and np.dtype(detail["dtype"]).kind == "f":
                outputs.setdefault(int(index), detail["name"])
    if not outputs:
        raise NotInstrumentable("the TF Lite model has no floating-point operator outputs")
    shapes: dict[int, tuple[int, ...]] = {}

    def run(inputs: dict[str, np.ndarray]) -> Activations:
        resized = False
        for key, index in feeds.items():
            shape = inputs[key].shape
            if shapes.get(index) != shape:
                interpreter.resize_tensor_input(index, shape, strict=False)
                shapes[index] = shape
                resized = True
        if resized:
            interpreter.allocate_tensors()
        for key, index in feeds.items():
            interpreter.set_tensor(index, np.ascontiguousarray(inputs[key]))
        interpreter.invoke()
        return Activations([interpreter.get_tensor(i) for i in outputs], [])

    return InstrumentedCall(tuple(outputs.values()), run)

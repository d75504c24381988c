"""The constants of a SavedModel that are model parameters: weights embedded in its graph.

A weight written with tf.constant (the seed's FixedHiddenMLP), or every weight of a frozen
graph, lives in a Const node rather than in the checkpoint. The rule, over the Const nodes of
the main graph and of every library function:
- floating-point: integer and string constants are shapes, indices and names;
- more than one value: a scalar, or a single value of shape [1], is a hyper-parameter or an
  offset (0.5, 1.0, an epsilon), or an input's default;
- not an initial value (fed to Assign/AssignVariableOp, as TF1 graphs keep them) nor a
  placeholder's default: those values are counted as the variable, or are inputs;
- each value once: the same constant captured by several functions, or traced into several,
  appears in several places with the same bytes, and counts once (so would two distinct
  constants holding the very same values: an accepted approximation).
"""

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator

import tensorflow as tf

from service.inspection.call_sites import CallSites
from service.inspection.parameters import GraphConstant, Parameter, ParameterKind
from service.protos.tensorflow.core.framework import node_def_pb2, tensor_pb2, types_pb2
from service.protos.tensorflow.core.protobuf import meta_graph_pb2

_FLOATING = frozenset(
    {types_pb2.DT_HALF, types_pb2.DT_BFLOAT16, types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE}
)
_NOT_A_WEIGHT_WHEN_FED_TO = frozenset({"Assign", "AssignVariableOp", "PlaceholderWithDefault"})


def graph_constants(
    meta_graph: meta_graph_pb2.MetaGraphDef, call_sites: CallSites
) -> list[Parameter]:
    """The parameter constants, main graph first, then functions in library order."""
    objects = meta_graph.object_graph_def.nodes
    # A constant a TF2 function captures is a main-graph Const that an object-graph node names.
    captured = {
        node.constant.operation: node_id
        for node_id, node in enumerate(objects)
        if node.WhichOneof("kind") == "constant"
    }
    found, seen = [], set()
    for function, node in _weight_constants(meta_graph):
        tensor = node.attr["value"].tensor
        digest = hashlib.sha256(tensor.SerializeToString(deterministic=True)).digest()
        if digest in seen:
            continue
        seen.add(digest)
        scopes, name = node.name.split("/")[:-1], node.name.split("/")[-1]
        if function:
            layer = call_sites.block_path(scopes)
        elif captured.get(node.name) in call_sites.scopes:
            layer = call_sites.scopes[captured[node.name]]
        else:
            layer = tuple(scopes)
        shape = tuple(d.size for d in tensor.tensor_shape.dim)
        dtype = tf.dtypes.as_dtype(tensor.dtype).name
        source = GraphConstant(function, node.name)
        found.append(Parameter("/".join(layer), name, ParameterKind.CONSTANT, shape, dtype, source))
    return found


def constant_tensors(
    meta_graph: meta_graph_pb2.MetaGraphDef,
) -> dict[GraphConstant, tensor_pb2.TensorProto]:
    """Every Const node's value by location (references into `meta_graph`, not copies)."""
    return {
        GraphConstant(function, node.name): node.attr["value"].tensor
        for function, nodes in _graphs(meta_graph)
        for node in nodes
        if node.op == "Const"
    }


def _weight_constants(
    meta_graph: meta_graph_pb2.MetaGraphDef,
) -> Iterator[tuple[str, node_def_pb2.NodeDef]]:
    for function, nodes in _graphs(meta_graph):
        consumers = _consumer_ops(nodes)
        for node in nodes:
            if node.op != "Const":
                continue
            tensor = node.attr["value"].tensor
            if tensor.dtype not in _FLOATING:
                continue
            if math.prod(d.size for d in tensor.tensor_shape.dim) < 2:
                continue
            if consumers[node.name] & _NOT_A_WEIGHT_WHEN_FED_TO:
                continue
            yield function, node


def _graphs(
    meta_graph: meta_graph_pb2.MetaGraphDef,
) -> Iterator[tuple[str, Iterable[node_def_pb2.NodeDef]]]:
    yield "", meta_graph.graph_def.node
    for function in meta_graph.graph_def.library.function:
        yield function.signature.name, function.node_def


def _consumer_ops(nodes: Iterable[node_def_pb2.NodeDef]) -> defaultdict[str, set[str]]:
    consumers: defaultdict[str, set[str]] = defaultdict(set)
    for node in nodes:
        for ref in node.input:
            if not ref.startswith("^"):  # a control input does not use the value
                consumers[ref.split(":")[0]].add(node.op)
    return consumers

"""The variables of a TF2 SavedModel, found in its object graph: which of them are the model's
parameters, where in the block hierarchy each sits, and its key in the checkpoint."""

from collections import deque

from service.inspection.call_sites import CallSites
from service.inspection.parameters import CheckpointTensor, Parameter, ParameterKind
from service.inspection.savedmodel import Checkpoint, holds_numbers
from service.protos.tensorflow.core.protobuf import (
    meta_graph_pb2,
    saved_object_graph_pb2,
    trackable_object_graph_pb2,
)

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"  # the checkpoint's own object graph
VALUE_ATTRIBUTE = "VARIABLE_VALUE"


def object_graph_variables(
    meta_graph: meta_graph_pb2.MetaGraphDef, checkpoint: Checkpoint | None, call_sites: CallSites
) -> list[Parameter]:
    """The model's variables, in object-graph order, each once."""
    graph = meta_graph.object_graph_def
    if checkpoint is None:
        return []
    keys = _checkpoint_keys(graph, checkpoint)
    named = _attribute_paths(graph)
    found = []
    for node_id in _model_variable_ids(graph):
        key = keys.get(node_id)
        if key is None or key not in checkpoint.shapes or not holds_numbers(checkpoint.dtypes[key]):
            continue  # nothing saved to summarize, or not a number
        variable = graph.nodes[node_id].variable
        layer, name = _locate(node_id, variable.name, named, call_sites)
        kind = ParameterKind.TRAINABLE if variable.trainable else ParameterKind.NON_TRAINABLE
        shape, dtype = checkpoint.shapes[key], checkpoint.dtypes[key].name
        found.append(Parameter(layer, name, kind, shape, dtype, CheckpointTensor(key)))
    return found


def _model_variable_ids(graph: saved_object_graph_pb2.SavedObjectGraph) -> list[int]:
    """Node ids of the variables that are model parameters.

    The rule: a variable is a parameter when a function saved with the model captures it, i.e.
    serving reads it. The object graph lists everything the saved objects track, and that is
    more than the model: optimizer slots and step counters, a checkpoint's save counter, and
    second copies (Keras 3's export tracks every weight twice, as the Keras variable in
    `variables` and as the tf.Variable behind it in `_all_variables`, both saved, one
    captured). None of those is captured by a serving function. A node reached from several
    places is one node, so counting node ids counts each variable once.

    A SavedModel whose functions capture no variable (variables saved with no function) falls
    back to every variable except optimizer slots and the save counter.
    """
    variables = {i for i, node in enumerate(graph.nodes) if node.WhichOneof("kind") == "variable"}
    captured = {i for f in graph.concrete_functions.values() for i in f.bound_inputs}
    if variables & captured:
        return sorted(variables & captured)
    slots = {s.slot_variable_node_id for node in graph.nodes for s in node.slot_variables}
    counters = {c.node_id for c in graph.nodes[0].children if c.local_name == "save_counter"}
    return sorted(variables - slots - counters)


def _locate(
    node_id: int, saved_name: str, named: dict[int, str], call_sites: CallSites
) -> tuple[str, str]:
    """(layer path, name) of a variable, from the best record the SavedModel has of it.

    1. The attribute path by which the model's blocks hold it (`encoder/dense/kernel`): the
       block hierarchy itself, as tf.Module, Keras 2 and hand-written TF2 models save it.
    2. Else the scope of the block whose call reads it (see call_sites): Keras 3's export.
    3. Else the variable's own name, whose scopes are those open when it was created.
    """
    if node_id in named:
        layer, _, name = named[node_id].rpartition("/")
        return layer, name
    layer, _, name = saved_name.split(":")[0].rpartition("/")
    scope = call_sites.scopes.get(node_id)
    if scope is not None:
        layer = "/".join(scope)
    return layer, name or "variable"


def _object_paths(graph: saved_object_graph_pb2.SavedObjectGraph) -> dict[int, str]:
    """The shortest path of child names from the root to each tracked object (not functions)."""
    paths = {0: ""}
    queue = deque([0])
    while queue:
        parent = queue.popleft()
        for child in graph.nodes[parent].children:
            if child.node_id in paths:
                continue
            if graph.nodes[child.node_id].WhichOneof("kind") == "user_object":
                paths[child.node_id] = _join(paths[parent], child.local_name)
                queue.append(child.node_id)
    return paths


def _attribute_paths(graph: saved_object_graph_pb2.SavedObjectGraph) -> dict[int, str]:
    """Shortest path to each variable a tracked object holds under a name, not a list index.

    A variable reached only as an element of a flat list (`variables/0`) gets no entry: the
    list says nothing about where in the model it sits.
    """
    best: dict[int, str] = {}
    for parent, parent_path in _object_paths(graph).items():
        for child in graph.nodes[parent].children:
            if child.local_name.isdigit():
                continue
            if graph.nodes[child.node_id].WhichOneof("kind") != "variable":
                continue
            path = _join(parent_path, child.local_name)
            known = best.get(child.node_id)
            if known is None or (path.count("/"), path) < (known.count("/"), known):
                best[child.node_id] = path
    return best


def _checkpoint_keys(
    graph: saved_object_graph_pb2.SavedObjectGraph, checkpoint: Checkpoint
) -> dict[int, str]:
    """Checkpoint key of each variable node, found as TensorFlow's loader finds it: by walking
    the checkpoint's object graph from the root along the same child names."""
    if OBJECT_GRAPH_KEY not in checkpoint.shapes:
        return {}
    saved = trackable_object_graph_pb2.TrackableObjectGraph.FromString(
        checkpoint.reader.get_tensor(OBJECT_GRAPH_KEY)
    )
    in_checkpoint = {0: 0}
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        names = {c.local_name: c.node_id for c in saved.nodes[in_checkpoint[node_id]].children}
        for child in graph.nodes[node_id].children:
            if child.node_id not in in_checkpoint and child.local_name in names:
                in_checkpoint[child.node_id] = names[child.local_name]
                queue.append(child.node_id)
    return {
        node_id: attribute.checkpoint_key
        for node_id, saved_id in in_checkpoint.items()
        for attribute in saved.nodes[saved_id].attributes
        if attribute.name == VALUE_ATTRIBUTE
    }


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name

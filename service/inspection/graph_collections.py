"""The variables of a TF1 SavedModel, found in its meta graph's variable collections."""

from service.inspection.parameters import CheckpointTensor, Parameter, ParameterKind
from service.inspection.savedmodel import Checkpoint, holds_numbers
from service.protos.tensorflow.core.framework import variable_pb2
from service.protos.tensorflow.core.protobuf import meta_graph_pb2

# TF1 graphs list their variables in collections named by tf.compat.v1.GraphKeys: GLOBAL are
# all the model's variables, TRAINABLE those an optimizer updates. LOCAL (metric counters) and
# the global step are training state, not parameters.
GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"
GLOBAL_STEP = "global_step"


def collection_variables(
    meta_graph: meta_graph_pb2.MetaGraphDef, checkpoint: Checkpoint | None
) -> list[Parameter]:
    """The global variables, in collection order, each once; the layer path is the variable's
    name scope (`dense/kernel` is `kernel` in layer `dense`)."""
    if checkpoint is None:
        return []
    trainable = {v.variable_name for v in _variable_defs(meta_graph, TRAINABLE_VARIABLES)}
    step = {v.variable_name for v in _variable_defs(meta_graph, GLOBAL_STEP)}
    found, seen = [], set()
    for variable in _variable_defs(meta_graph, GLOBAL_VARIABLES):
        # A partitioned variable is saved whole under its full name; its parts are listed apart.
        key = variable.save_slice_info_def.full_name or variable.variable_name.split(":")[0]
        if key in seen or variable.variable_name in step:
            continue
        seen.add(key)
        if key not in checkpoint.shapes or not holds_numbers(checkpoint.dtypes[key]):
            continue  # a TF1 saver may leave variables out; those have no value to summarize
        layer, _, name = key.rpartition("/")
        kind = (
            ParameterKind.TRAINABLE
            if variable.variable_name in trainable
            else ParameterKind.NON_TRAINABLE
        )
        shape, dtype = checkpoint.shapes[key], checkpoint.dtypes[key].name
        found.append(Parameter(layer, name, kind, shape, dtype, CheckpointTensor(key)))
    return found


def _variable_defs(
    meta_graph: meta_graph_pb2.MetaGraphDef, collection: str
) -> list[variable_pb2.VariableDef]:
    """The variables a collection lists; TF1 saves a collection of variables as VariableDefs."""
    if collection not in meta_graph.collection_def:  # indexing a proto map would add the key
        return []
    return [
        variable_pb2.VariableDef.FromString(raw)
        for raw in meta_graph.collection_def[collection].bytes_list.value
    ]

"""Reading parameter values from a SavedModel's files, one tensor at a time."""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from service.inspection.constants import constant_tensors
from service.inspection.parameters import CheckpointTensor, GraphConstant, Parameter, ParameterSet
from service.inspection.savedmodel import (
    Checkpoint,
    InspectionError,
    open_checkpoint,
    read_meta_graph,
)
from service.protos.tensorflow.core.framework import tensor_pb2


@dataclass(frozen=True)
class ParameterValues:
    """The values behind a SavedModel's parameters, read on demand and never kept."""

    checkpoint: Checkpoint | None
    constants: Mapping[GraphConstant, tensor_pb2.TensorProto]

    def read(self, parameter: Parameter) -> np.ndarray:
        source = parameter.source
        if isinstance(source, CheckpointTensor):
            if self.checkpoint is None:  # the files changed since the parameters were found
                raise InspectionError(f"no checkpoint holds {parameter.path} ({source.key})")
            return self.checkpoint.read(source.key)
        return tf.make_ndarray(self.constants[source])


def open_values(parameters: ParameterSet) -> ParameterValues:
    """Reopen the files of a SavedModel found before; the graph is parsed again only when a
    constant needs it."""
    constants: Mapping[GraphConstant, tensor_pb2.TensorProto] = {}
    if any(isinstance(p.source, GraphConstant) for p in parameters.parameters):
        constants = constant_tensors(read_meta_graph(parameters.saved_model_dir, parameters.tags))
    return ParameterValues(open_checkpoint(parameters.saved_model_dir), constants)

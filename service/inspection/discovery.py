"""Finding a SavedModel's parameters: its variables and its weight constants, each on its own
path."""

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from service.inspection.call_sites import find_call_sites
from service.inspection.constants import graph_constants
from service.inspection.graph_collections import collection_variables
from service.inspection.object_graph import object_graph_variables
from service.inspection.parameters import Parameter, ParameterSet
from service.inspection.savedmodel import Checkpoint, open_checkpoint, read_meta_graph
from service.protos.tensorflow.core.protobuf import meta_graph_pb2

DEFAULT_TAGS = ("serve",)


def find_parameters(saved_model_dir: Path, tags: Iterable[str] = DEFAULT_TAGS) -> ParameterSet:
    """The parameters of the SavedModel in `saved_model_dir`, without their values."""
    tags = tuple(tags)
    meta_graph = read_meta_graph(saved_model_dir, tags)
    parameters = discover(meta_graph, open_checkpoint(saved_model_dir))
    return ParameterSet(saved_model_dir, tags, parameters)


def discover(
    meta_graph: meta_graph_pb2.MetaGraphDef, checkpoint: Checkpoint | None
) -> tuple[Parameter, ...]:
    """Variables first, in the order the SavedModel records them, then constants.

    A TF2 SavedModel describes its objects in an object graph; a TF1 one has none and lists its
    variables in collections instead.
    """
    call_sites = find_call_sites(meta_graph)
    if meta_graph.object_graph_def.nodes:
        variables = object_graph_variables(meta_graph, checkpoint, call_sites)
    else:
        variables = collection_variables(meta_graph, checkpoint)
    return _with_unique_paths([*variables, *graph_constants(meta_graph, call_sites)])


def _with_unique_paths(parameters: list[Parameter]) -> tuple[Parameter, ...]:
    """Paths identify parameters (comparisons match on them), so where two would share one (a
    SavedModel that records ambiguous names), later ones get TensorFlow's own suffixes:
    kernel, kernel_1, kernel_2."""
    taken: set[str] = set()
    unique = []
    for parameter in parameters:
        renamed, n = parameter, 0
        while renamed.path in taken:
            n += 1
            renamed = dataclasses.replace(parameter, name=f"{parameter.name}_{n}")
        taken.add(renamed.path)
        unique.append(renamed)
    return tuple(unique)

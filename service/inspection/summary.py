"""A SavedModel's parameter summary: counts by kind and by layer, and statistics of each tensor."""

from collections.abc import Iterable, Sequence
from pathlib import Path

from service.inspection.constants import constant_tensors
from service.inspection.discovery import DEFAULT_TAGS, discover
from service.inspection.parameters import Parameter, ParameterKind
from service.inspection.savedmodel import open_checkpoint, read_meta_graph
from service.inspection.statistics import TensorStatistics, describe
from service.inspection.values import ParameterValues
from service.protos.blockserve.v1 import inspection_pb2

_COUNT_FIELD = {
    ParameterKind.TRAINABLE: "trainable_parameters",
    ParameterKind.NON_TRAINABLE: "non_trainable_parameters",
    ParameterKind.CONSTANT: "constant_parameters",
}


def summarize(
    saved_model_dir: Path, model: str, version: int, tags: Iterable[str] = DEFAULT_TAGS
) -> inspection_pb2.ParameterSummary:
    """Summarize the parameters of the SavedModel in `saved_model_dir`.

    Reads the SavedModel's files as data, one tensor at a time, and keeps no values.
    Raises InspectionError when the folder holds no readable SavedModel with those tags.
    """
    meta_graph = read_meta_graph(saved_model_dir, tags)
    checkpoint = open_checkpoint(saved_model_dir)
    values = ParameterValues(checkpoint, constant_tensors(meta_graph))
    return summarize_parameters(discover(meta_graph, checkpoint), values, model, version)


def summarize_parameters(
    parameters: Sequence[Parameter], values: ParameterValues, model: str, version: int
) -> inspection_pb2.ParameterSummary:
    """The summary of parameters found before, reading each one's values from `values`."""
    summary = inspection_pb2.ParameterSummary(model=model, version=version)
    layers = {path: summary.layers.add(path=path) for path in _tree_order(parameters)}
    for parameter in parameters:
        layer = layers[parameter.layer]
        layer.variables.append(_variable_summary(parameter, describe(values.read(parameter))))
        for counts in (layer, summary):
            field = _COUNT_FIELD[parameter.kind]
            setattr(counts, field, getattr(counts, field) + parameter.count)
            counts.total_parameters += parameter.count
    return summary


def _tree_order(parameters: Sequence[Parameter]) -> list[str]:
    """The layer paths, parents before children and siblings in first-seen order, so that a
    block's layers stay together (a flat first-seen order could split them)."""
    children: dict[str, dict[str, None]] = {"": {}}  # ordered sets
    for parameter in parameters:
        parts = parameter.layer.split("/") if parameter.layer else []
        for depth in range(len(parts)):
            parent, child = "/".join(parts[:depth]), "/".join(parts[: depth + 1])
            children.setdefault(parent, {})[child] = None
            children.setdefault(child, {})
    holders = {p.layer for p in parameters}
    ordered, stack = [], [""]
    while stack:
        path = stack.pop()
        if path in holders:
            ordered.append(path)
        stack.extend(reversed(children[path]))
    return ordered


def _variable_summary(
    parameter: Parameter, stats: TensorStatistics
) -> inspection_pb2.VariableSummary:
    return inspection_pb2.VariableSummary(
        path=parameter.path,
        name=parameter.name,
        shape=parameter.shape,
        dtype=parameter.dtype,
        count=parameter.count,
        kind=parameter.kind.value,
        min=stats.min,
        max=stats.max,
        mean=stats.mean,
        std=stats.std,
        l2_norm=stats.l2_norm,
        zero_fraction=stats.zero_fraction,
        non_finite_count=stats.non_finite_count,
        histogram=inspection_pb2.Histogram(
            edges=stats.histogram.edges, counts=stats.histogram.counts
        ),
        source=str(parameter.source),
    )

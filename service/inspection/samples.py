"""A parameter summary as flat samples, the shape metrics exporters want."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from service.inspection.parameters import kind_label
from service.protos.blockserve.v1 import inspection_pb2

STATISTICS = ("count", "min", "max", "mean", "std", "l2_norm", "zero_fraction", "non_finite_count")


@dataclass(frozen=True)
class ParameterSample:
    """One statistic of one parameter, e.g. ("chimera/dense_3", "kernel", "trainable", "std",
    0.21)."""

    layer: str
    variable: str
    kind: str
    statistic: str
    value: float


def parameter_samples(
    summary: inspection_pb2.ParameterSummary,
    max_variables: int | None = None,
    statistics: Sequence[str] = STATISTICS,
) -> Iterator[ParameterSample]:
    """The `statistics` (names of VariableSummary fields) of every parameter, in summary order.

    `max_variables` caps the number of parameters sampled (None: all), to bound the number of
    series a very large model adds; the largest parameters (most values) are kept, since they
    say the most about the model.
    """
    variables = [(layer.path, v) for layer in summary.layers for v in layer.variables]
    if max_variables is not None and max_variables < len(variables):
        by_size = sorted(range(len(variables)), key=lambda i: -variables[i][1].count)  # stable
        variables = [variables[i] for i in sorted(by_size[:max_variables])]
    for layer, v in variables:
        kind = kind_label(v.kind)
        for statistic in statistics:
            yield ParameterSample(layer, v.name, kind, statistic, float(getattr(v, statistic)))

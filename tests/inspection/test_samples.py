"""Flat samples of a summary, for metrics: every statistic, capped to the largest parameters."""

from pathlib import Path

from service.inspection import parameter_samples, summarize
from service.inspection.samples import STATISTICS


def test_samples_give_every_statistic_of_every_parameter(exported: Path) -> None:
    summary = summarize(exported / "chimera" / "1", "chimera", 1)
    samples = list(parameter_samples(summary))
    variables = [(layer, v) for layer in summary.layers for v in layer.variables]
    assert len(samples) == len(variables) * len(STATISTICS)
    constant = [s for s in samples if s.kind == "constant"]
    assert {(s.layer, s.variable) for s in constant} == {("chimera/fixed_hidden_mlp", "Const")}
    (std,) = [s for s in constant if s.statistic == "std"]
    assert std.value == summary.layers[4].variables[0].std


def test_a_cap_keeps_the_largest_parameters_in_summary_order(exported: Path) -> None:
    summary = summarize(exported / "chimera" / "1", "chimera", 1)
    samples = list(parameter_samples(summary, max_variables=4, statistics=("mean",)))
    assert [(s.layer, s.variable) for s in samples] == [
        ("chimera/nest_mlp/net/dense", "kernel"),  # 1,280 values
        ("chimera/nest_mlp/net/dense_1", "kernel"),  # 2,048
        ("chimera/nest_mlp/dense_2", "kernel"),  # 512
        ("chimera/fixed_hidden_mlp", "Const"),  # 400, the first of two with 400
    ]
    assert list(parameter_samples(summary, max_variables=0)) == []

"""How the parameters of one version of a model differ from those of another."""

import math
from collections.abc import Iterable
from pathlib import Path

from service.inspection.discovery import DEFAULT_TAGS, find_parameters
from service.inspection.parameters import Parameter, ParameterSet
from service.inspection.statistics import Difference, difference
from service.inspection.values import open_values
from service.protos.blockserve.v1 import inspection_pb2


def compare(
    base_dir: Path,
    target_dir: Path,
    model: str,
    base_version: int,
    version: int,
    tags: Iterable[str] = DEFAULT_TAGS,
) -> inspection_pb2.ParameterComparison:
    """Compare the parameters of two SavedModels, the target against the base."""
    tags = tuple(tags)
    base, target = find_parameters(base_dir, tags), find_parameters(target_dir, tags)
    return compare_parameters(base, target, model, base_version, version)


def compare_parameters(
    base: ParameterSet, target: ParameterSet, model: str, base_version: int, version: int
) -> inspection_pb2.ParameterComparison:
    """Compare two parameter sets found before, matching parameters by path.

    Values are read again from the SavedModels' files, one pair of tensors at a time.
    """
    comparison = inspection_pb2.ParameterComparison(
        model=model, base_version=base_version, version=version
    )
    base_values, target_values = open_values(base), open_values(target)
    in_base = {p.path: p for p in base.parameters}
    for parameter in target.parameters:
        old = in_base.get(parameter.path)
        if old is None:
            comparison.added.append(_unmatched(parameter))
        elif old.shape != parameter.shape:
            comparison.reshaped.append(
                inspection_pb2.ShapeChange(
                    path=parameter.path,
                    base_kind=old.kind.value,
                    kind=parameter.kind.value,
                    base_shape=old.shape,
                    shape=parameter.shape,
                )
            )
        else:
            change = difference(base_values.read(old), target_values.read(parameter))
            comparison.variables.append(_compared(old, parameter, change))
    in_target = {p.path for p in target.parameters}
    comparison.removed.extend(_unmatched(p) for p in base.parameters if p.path not in in_target)
    comparison.summary.CopyFrom(_summary(comparison, base.total, target.total))
    return comparison


def _compared(
    old: Parameter, new: Parameter, change: Difference
) -> inspection_pb2.VariableComparison:
    return inspection_pb2.VariableComparison(
        path=new.path,
        kind=new.kind.value,
        base_kind=old.kind.value,
        shape=new.shape,
        base_l2_norm=change.base_l2_norm,
        l2_norm=change.l2_norm,
        l2_norm_change=change.l2_norm - change.base_l2_norm,
        max_abs_diff=change.max_abs_diff,
        l2_diff=change.l2_diff,
        relative_l2_diff=change.relative_l2_diff,
        cosine_similarity=change.cosine_similarity,
        changed=change.changed,
    )


def _unmatched(parameter: Parameter) -> inspection_pb2.UnmatchedVariable:
    return inspection_pb2.UnmatchedVariable(
        path=parameter.path,
        kind=parameter.kind.value,
        shape=parameter.shape,
        dtype=parameter.dtype,
        count=parameter.count,
    )


def _summary(
    comparison: inspection_pb2.ParameterComparison, base_total: int, total: int
) -> inspection_pb2.ComparisonSummary:
    changed = [v for v in comparison.variables if v.changed]
    # NaN (a parameter holding NaN) cannot be ranked; it shows in its own row.
    ranked = [v for v in changed if not math.isnan(v.relative_l2_diff)]
    largest = max(ranked, key=lambda v: v.relative_l2_diff, default=None)
    diffs = [v.max_abs_diff for v in comparison.variables if not math.isnan(v.max_abs_diff)]
    return inspection_pb2.ComparisonSummary(
        compared=len(comparison.variables),
        changed=len(changed),
        added=len(comparison.added),
        removed=len(comparison.removed),
        reshaped=len(comparison.reshaped),
        base_total_parameters=base_total,
        total_parameters=total,
        largest_change_path=largest.path if largest else "",
        largest_relative_l2_diff=largest.relative_l2_diff if largest else 0.0,
        max_abs_diff=max(diffs, default=0.0),
    )

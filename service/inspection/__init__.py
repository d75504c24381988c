"""Per-layer parameter summaries of SavedModels, and comparisons between versions.

Everything is read from the SavedModel's files (saved_model.pb and the variables checkpoint),
never from a loaded model, so it works for any SavedModel, TF1 or TF2.

    summary = summarize(Path("exported/chimera/1"), "chimera", 1)
    print(render_summary(summary))
    comparison = compare(Path("m/1"), Path("m/2"), "m", 1, 2)
    print(render_comparison(comparison))
"""

from service.inspection.compare import compare, compare_parameters
from service.inspection.discovery import DEFAULT_TAGS, find_parameters
from service.inspection.parameters import Parameter, ParameterKind, ParameterSet, kind_label
from service.inspection.proto_json import to_json
from service.inspection.samples import ParameterSample, parameter_samples
from service.inspection.savedmodel import InspectionError
from service.inspection.summary import summarize
from service.inspection.table import render_comparison, render_summary

__all__ = [
    "DEFAULT_TAGS",
    "InspectionError",
    "Parameter",
    "ParameterKind",
    "ParameterSample",
    "ParameterSet",
    "compare",
    "compare_parameters",
    "find_parameters",
    "kind_label",
    "parameter_samples",
    "render_comparison",
    "render_summary",
    "summarize",
    "to_json",
]

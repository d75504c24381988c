"""Per-layer parameter summaries of SavedModels, and comparisons between versions.

Everything is read from the SavedModel's files (saved_model.pb and the variables checkpoint),
never from a loaded model, so it works for any SavedModel, TF1 or TF2.

    summary = summarize(Path("exported/chimera/1"), "chimera", 1)
    print(render_summary(summary))
    comparison = compare(Path("m/1"), Path("m/2"), "m", 1, 2)
    print(render_comparison(comparison))
"""

import importlib
from typing import Any

# Where each name lives. Imported on first use (PEP 562), so that the front process, which
# renders and exports summaries but never reads SavedModels, does not import TensorFlow.
_HOMES = {
    "compare": "compare",
    "compare_parameters": "compare",
    "DEFAULT_TAGS": "discovery",
    "find_parameters": "discovery",
    "Parameter": "parameters",
    "ParameterKind": "parameters",
    "ParameterSet": "parameters",
    "kind_label": "parameters",
    "to_json": "proto_json",
    "ParameterSample": "samples",
    "parameter_samples": "samples",
    "InspectionError": "savedmodel",
    "summarize": "summary",
    "render_comparison": "table",
    "render_summary": "table",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    home = importlib.import_module(f"{__name__}.{_HOMES[name]}")
    # Importing `compare` bound the submodule to the package's name `compare`; the function of
    # that name is what this package exports, so bind every name of that home now.
    for exported, where in _HOMES.items():
        if where == _HOMES[name]:
            globals()[exported] = getattr(home, exported)
    return globals()[name]

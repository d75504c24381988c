"""What an export recorded about a model that a server must respect."""

import json
from dataclasses import dataclass
from pathlib import Path

FACTS_FILE = Path("assets.extra") / "blockserve.json"


@dataclass(frozen=True)
class ExportFacts:
    """Facts about a model that its graph alone does not tell."""

    rows_coupled: bool | None = None
    """One call's rows are reduced together, so two requests must never share a call.

    None where the export did not say (any SavedModel not written by models.export)."""
    loop_ends_on_non_finite: bool = True
    """False where a non-finite input can keep the model's loop from ending."""


def read_facts(version_dir: Path) -> ExportFacts:
    """The facts in `assets.extra/blockserve.json`; a SavedModel without it gets the defaults."""
    path = version_dir / FACTS_FILE
    if not path.is_file():
        return ExportFacts()
    recorded = json.loads(path.read_text())
    return ExportFacts(
        rows_coupled=bool(recorded["rows_coupled"]) if "rows_coupled" in recorded else None,
        loop_ends_on_non_finite=bool(recorded.get("loop_ends_on_non_finite", True)),
    )

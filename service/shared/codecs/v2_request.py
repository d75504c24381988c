"""A V2 inference request decoded from either protocol, and the model it names."""

from dataclasses import dataclass, field

import numpy as np

from service.shared.errors import InvalidArgument
from service.shared.types import ModelQuery

SIGNATURE_PARAMETER = "signature_name"
"""The request parameter naming the SignatureDef to run (default serving_default)."""


@dataclass(frozen=True)
class InferRequest:
    """What the data plane needs from a V2 request, and what its answer echoes."""

    query: ModelQuery
    id: str
    inputs: dict[str, np.ndarray]
    outputs: list[str]
    """The outputs asked for, in order; empty for all of the signature's."""
    binary_outputs: frozenset[str] = field(default_factory=frozenset)
    """REST: the outputs to send as binary data (the binary tensor data extension)."""
    all_binary: bool = False
    """REST: `binary_data_output`, every output not asked for otherwise goes as binary."""
    timeout_seconds: float | None = None
    """REST: the request's `timeout` parameter (microseconds, as Triton reads it)."""


def model_query(name: str, version: str, signature: str = "") -> ModelQuery:
    """A V2 model and version: empty for the latest, digits for a version, else a label."""
    if not isinstance(version, str):
        raise InvalidArgument("the model version must be a string")
    if not version:
        return ModelQuery(name, signature=signature)
    if version.isdigit():
        return ModelQuery(name, int(version), signature=signature)
    return ModelQuery(name, label=version, signature=signature)


def check_names(names: list[str], kind: str) -> None:
    """Inputs, and outputs asked for, each named once."""
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"every {kind} needs a 'name' (a non-empty string)")
        if name in seen:
            raise InvalidArgument(f"{kind} {name!r} is named twice")
        seen.add(name)

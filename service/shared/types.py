"""Values that cross from the adapters into the core and back."""

from dataclasses import dataclass

import numpy as np

from service.shared.signature import Signature


@dataclass(frozen=True)
class ModelQuery:
    """Which model, version (or label) and signature a request names."""

    name: str
    version: int | None = None
    label: str | None = None
    signature: str = ""


@dataclass(frozen=True)
class Served:
    """The version and signature that actually answered, for the response's model_spec."""

    model: str
    version: int
    signature: str


@dataclass(frozen=True)
class Prediction:
    served: Served
    outputs: dict[str, np.ndarray]


@dataclass(frozen=True)
class Classification:
    """Per example, (label, score) pairs; labels are empty where the model gives only scores."""

    served: Served
    classes: list[list[tuple[str, float]]]


@dataclass(frozen=True)
class Regression:
    served: Served
    values: list[float]


@dataclass(frozen=True)
class Metadata:
    served: Served
    signatures: dict[str, Signature]
    platform: str = "tensorflow"
    """"tensorflow" (a SavedModel) or "tensorflow_lite"."""


@dataclass(frozen=True)
class VersionStatus:
    """What GetModelStatus reports for a version."""

    version: int
    state: int
    error_code: str
    error_message: str

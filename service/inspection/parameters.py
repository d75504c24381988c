"""What a model parameter is to inspection: where it sits, what kind it is, where its values are."""

import enum
import math
from dataclasses import dataclass
from pathlib import Path

from service.protos.blockserve.v1 import inspection_pb2


class ParameterKind(enum.Enum):
    """A parameter's role in training; the values are the wire enum's."""

    TRAINABLE = inspection_pb2.PARAMETER_KIND_TRAINABLE
    NON_TRAINABLE = inspection_pb2.PARAMETER_KIND_NON_TRAINABLE
    CONSTANT = inspection_pb2.PARAMETER_KIND_CONSTANT

    @property
    def label(self) -> str:
        """The short form metrics and tables use: "trainable", "non_trainable", "constant"."""
        return self.name.lower()


def kind_label(kind: int) -> str:
    """The short form of a wire ParameterKind value; "unspecified" for 0 or a value this
    version does not know (a newer server's)."""
    try:
        return ParameterKind(kind).label
    except ValueError:
        return "unspecified"


@dataclass(frozen=True)
class CheckpointTensor:
    """A variable's value, stored in the SavedModel's checkpoint under `key`."""

    key: str

    def __str__(self) -> str:
        return f"checkpoint:{self.key}"


@dataclass(frozen=True)
class GraphConstant:
    """A constant's value, held by the Const node `node` of the main graph (function "") or of
    the library function `function`."""

    function: str
    node: str

    def __str__(self) -> str:
        return f"function:{self.function}/{self.node}" if self.function else f"graph:{self.node}"


@dataclass(frozen=True)
class TfLiteTensor:
    """A constant's value, held in a TF Lite model's buffer for tensor `index` of its main
    subgraph."""

    index: int

    def __str__(self) -> str:
        return f"tflite:tensor/{self.index}"


TensorSource = CheckpointTensor | GraphConstant | TfLiteTensor


@dataclass(frozen=True)
class Parameter:
    """One parameter tensor of a SavedModel, without its values."""

    layer: str
    """Path of the block holding it, "/"-separated from the outermost; "" for none."""
    name: str
    kind: ParameterKind
    shape: tuple[int, ...]
    dtype: str
    source: TensorSource

    @property
    def path(self) -> str:
        return f"{self.layer}/{self.name}" if self.layer else self.name

    @property
    def count(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class ParameterSet:
    """The parameters of one SavedModel, and where to read their values again.

    Small enough to keep for every loaded version: it holds no values.
    """

    saved_model_dir: Path
    tags: tuple[str, ...]
    parameters: tuple[Parameter, ...]

    @property
    def total(self) -> int:
        return sum(p.count for p in self.parameters)

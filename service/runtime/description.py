"""What the front learns of a version a worker loaded: everything but the TensorFlow objects.

A plain value that pickles across the worker channel; this module imports no TensorFlow, so
the front can read it.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.protos.blockserve.v1 import inspection_pb2
from service.protos.tensorflow_serving.apis import get_model_metadata_pb2
from service.runtime.facts import ExportFacts
from service.runtime.signature import Signature, read_signatures

if TYPE_CHECKING:
    from service.runtime.model_version import ModelVersion
    from service.runtime.tflite import TfLiteVersion


@dataclass(frozen=True)
class VersionDescription:
    name: str
    version: int
    signature_defs: bytes
    """A serialized SignatureDefMap of the servable signatures."""
    facts: ExportFacts
    summary: bytes | None
    """A serialized ParameterSummary, or None where it could not be computed."""
    summary_problem: str
    load_seconds: float
    platform: str = "tensorflow"
    """"tensorflow" for a SavedModel, "tensorflow_lite" for a model.tflite."""
    looped_signatures: tuple[str, ...] = ()
    """The signatures whose looped call passed the load-time check: exact batching serves them."""

    def signatures(self) -> dict[str, Signature]:
        defs = get_model_metadata_pb2.SignatureDefMap.FromString(self.signature_defs)
        return read_signatures(defs.signature_def)

    def parameter_summary(self) -> inspection_pb2.ParameterSummary | None:
        if self.summary is None:
            return None
        return inspection_pb2.ParameterSummary.FromString(self.summary)


def describe(
    model: "ModelVersion | TfLiteVersion", looped_signatures: tuple[str, ...] = ()
) -> VersionDescription:
    defs = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in model.signatures.items():
        defs.signature_def[name].CopyFrom(signature.definition)
    return VersionDescription(
        name=model.name,
        version=model.version,
        signature_defs=defs.SerializeToString(),
        facts=model.facts,
        summary=None if model.summary is None else model.summary.SerializeToString(),
        summary_problem=model.summary_problem,
        load_seconds=model.load_seconds,
        platform=model.platform,
        looped_signatures=looped_signatures,
    )

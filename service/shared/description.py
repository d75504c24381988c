"""What the front learns of a version a worker loaded: everything but the TensorFlow objects.

A plain value that pickles across the worker channel; this module imports no TensorFlow, so
the front can read it.
"""

from dataclasses import dataclass

from service.protos.blockserve.v1 import inspection_pb2
from service.protos.tensorflow_serving.apis import get_model_metadata_pb2
from service.shared.facts import ExportFacts
from service.shared.signature import Signature, read_signatures


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

"""A loaded version described for the front: everything but its TensorFlow objects."""

from service.protos.tensorflow_serving.apis import get_model_metadata_pb2
from service.shared.description import VersionDescription
from service.worker.runtime.model_version import ModelVersion
from service.worker.runtime.tflite import TfLiteVersion


def describe(
    model: ModelVersion | TfLiteVersion, looped_signatures: tuple[str, ...] = ()
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

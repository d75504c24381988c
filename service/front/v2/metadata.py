"""Server and model metadata in the V2 protocol's JSON form (also the gRPC messages' JSON)."""

from typing import Any

from service import __version__
from service.shared.codecs.v2_datatypes import spec_datatype, spec_shape
from service.shared.errors import FailedPrecondition
from service.shared.signature import DEFAULT_SIGNATURE, Signature
from service.shared.types import Metadata

SERVER_NAME = "blockserve"
EXTENSIONS = ("binary_tensor_data", "model_repository", "parameters")
"""The V2 extensions served: Triton's binary tensor data, explicit model control, and
request parameters (`signature_name`)."""
PLATFORMS = {"tensorflow": "tensorflow_savedmodel", "tensorflow_lite": "tensorflow_tflite"}
"""V2's platform names (Triton's) for the runtime's formats."""


def server_metadata() -> dict[str, Any]:
    return {"name": SERVER_NAME, "version": __version__, "extensions": list(EXTENSIONS)}


def _tensors(specs: dict) -> list[dict[str, Any]]:
    return [
        {"name": name, "datatype": spec_datatype(spec), "shape": spec_shape(spec)}
        for name, spec in specs.items()
    ]


def _signature(signature: Signature) -> dict[str, Any]:
    return {
        "method_name": signature.method_name,
        "inputs": _tensors(signature.inputs),
        "outputs": _tensors(signature.outputs),
    }


def model_metadata(metadata: Metadata, versions: list[int], signature: str = "") -> dict[str, Any]:
    """A model's metadata: inputs and outputs of one signature (serving_default unless named),
    and, beyond the spec's fields, every signature with its own."""
    chosen = metadata.signatures.get(signature or DEFAULT_SIGNATURE)
    if signature and chosen is None:
        raise FailedPrecondition(
            f"model {metadata.served.model!r} version {metadata.served.version} has no "
            f"signature {signature!r}; it has {sorted(metadata.signatures)}"
        )
    return {
        "name": metadata.served.model,
        "versions": [str(v) for v in versions],
        "platform": PLATFORMS[metadata.platform],
        "inputs": _tensors(chosen.inputs) if chosen else [],
        "outputs": _tensors(chosen.outputs) if chosen else [],
        "signatures": {name: _signature(s) for name, s in metadata.signatures.items()},
    }

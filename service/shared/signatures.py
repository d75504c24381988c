"""Which signature a request runs and which outputs it gets: shared by the front's data plane
and the workers' request road, so that both answer with the same codes and words."""

from typing import Protocol

from service.shared.errors import FailedPrecondition, InvalidArgument
from service.shared.signature import CLASSIFY, DEFAULT_SIGNATURE, PREDICT, REGRESS, Signature
from service.shared.types import ModelQuery


class HasSignatures(Protocol):
    name: str
    version: int
    signatures: dict[str, Signature]


# TF2 exports give every signature the predict method, so TensorFlow Serving (unless told
# --enable_signature_method_name_check) takes a predict signature whose outputs fit the call.
METHOD_OUTPUTS = {
    CLASSIFY: ({"classes"}, {"scores"}, {"classes", "scores"}),
    REGRESS: ({"outputs"},),
}


def choose_signature(
    model: HasSignatures, query: ModelQuery, method: str = "", strict: bool = False
) -> Signature:
    """The signature `query` names (serving_default when none); `method` is CLASSIFY or
    REGRESS for those calls, empty for Predict; `strict` is --enable_signature_method_name_check."""
    name = query.signature or DEFAULT_SIGNATURE
    signature = model.signatures.get(name)
    if signature is None:
        # TensorFlow Serving's codes: FAILED_PRECONDITION for Predict, INVALID_ARGUMENT for
        # Classify and Regress (HTTP 400 both).
        missing = InvalidArgument if method else FailedPrecondition
        raise missing(
            f"model {model.name!r} version {model.version} has no signature {name!r}; "
            f"it has {sorted(model.signatures)}"
        )
    if method and not _serves(signature, method, strict):
        raise InvalidArgument(
            f"signature {name!r} of model {model.name!r} has method "
            f"{signature.method_name!r} and outputs {sorted(signature.outputs)}; "
            f"this call needs {method!r}"
        )
    return signature


def _serves(signature: Signature, method: str, strict: bool) -> bool:
    if signature.method_name == method:
        return True
    return (
        not strict
        and signature.method_name == PREDICT
        and set(signature.outputs) in METHOD_OUTPUTS[method]
    )


def output_filter(model: str, signature: Signature, names: list[str]) -> tuple[str, ...]:
    """The outputs a request asked for (all when none), each an output of the signature."""
    unknown = sorted(set(names) - set(signature.outputs))
    if unknown:
        raise InvalidArgument(
            f"model {model!r} signature {signature.name!r} has no output {unknown}; "
            f"outputs are {sorted(signature.outputs)}"
        )
    if len(set(names)) != len(names):
        raise InvalidArgument(f"output_filter names an output twice: {names}")
    return tuple(names)

"""Inputs checked against a signature before anything runs, with messages that name the input."""

import numpy as np

from service.shared.errors import InvalidArgument
from service.shared.facts import ExportFacts
from service.shared.signature import Signature


def check_inputs(
    model: str,
    signature: Signature,
    inputs: dict[str, np.ndarray],
    facts: ExportFacts,
    max_rows: int,
) -> None:
    """The exact set of inputs, each of the signature's dtype, within the row limit, and
    finite where the model's loop needs it. Shapes are the graph's to judge."""
    where = f"model {model!r} signature {signature.name!r}"
    missing = sorted(set(signature.inputs) - set(inputs))
    extra = sorted(set(inputs) - set(signature.inputs))
    if missing or extra:
        parts = [f"missing {missing}" if missing else "", f"unknown {extra}" if extra else ""]
        raise InvalidArgument(
            f"{where}: inputs {' and '.join(p for p in parts if p)}; "
            f"expected exactly {sorted(signature.inputs)}"
        )
    for name, array in inputs.items():
        spec = signature.inputs[name]
        if spec.dtype is not None and array.dtype != spec.dtype:
            got = "string" if array.dtype == object else array.dtype.name
            raise InvalidArgument(f"{where}: input {name!r} is {got}; expected {spec.describe()}")
        # No shape check: as in TensorFlow Serving the graph decides (a TF1 signature declared
        # [-1, 1] answers x of shape [3]); a shape the graph refuses is its INVALID_ARGUMENT.
        if array.ndim and array.shape[0] > max_rows:
            raise InvalidArgument(
                f"{where}: input {name!r} has {array.shape[0]} rows; at most {max_rows} per request"
            )
        if (
            not facts.loop_ends_on_non_finite
            and array.dtype.kind == "f"
            and not np.isfinite(array).all()
        ):
            raise InvalidArgument(
                f"{where}: input {name!r} holds NaN or infinity, on which this model's loop "
                "never ends; send finite values"
            )


def fits_declared_shapes(signature: Signature, inputs: dict[str, np.ndarray]) -> bool:
    """Whether every input has its signature's declared rank and known dimensions: only such
    requests may have their rows merged with others' (a request the graph takes in another
    shape runs on its own)."""
    for name, array in inputs.items():
        spec = signature.inputs.get(name)
        if spec is None or spec.shape is None:
            continue
        if array.ndim != len(spec.shape) or any(
            want >= 0 and want != got for want, got in zip(spec.shape, array.shape, strict=True)
        ):
            return False
    return True

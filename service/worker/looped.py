"""Exact batching: several requests in one TensorFlow call that still computes each on its own.

A `tf.function` stacks the waiting requests' inputs and maps the signature over them
(`tf.map_fn`, a loop in the graph): each request runs the same function on its own rows as a
call of its own would, so nothing merges rows, and models whose rows are coupled batch too. The
loop saves the per-call overhead of the eager runtime (about 100 us of a 120 us one-row call).

Whether the looped call gives the single call's bits is checked for each version and signature
when the version loads, on sample inputs; a signature where it does not (a random op, a
counter, a kernel that differs inside a loop) is served one call per request.
"""

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from service.shared.signature import Signature
from service.worker.runtime.call import signature_call

log = logging.getLogger(__name__)


class LoopedCall:
    """A checked looped function and its direct call; holding the function keeps it
    registered with the eager context (TensorFlow drops a function's registration with it)."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self._call = signature_call(function)

    def __call__(self, stacked: dict[str, np.ndarray]) -> dict[str, tf.Tensor]:
        return self._call(stacked)


CHECK_REQUESTS = 4
"""Sample requests in the load-time check."""


def looped_calls(
    loaded: Any, signatures: dict[str, Signature], single: dict[str, Callable[..., Any]]
) -> tuple[dict[str, LoopedCall], dict[str, str]]:
    """For each signature of a TF2 SavedModel, a looped call that passed the check; and, for
    those without one, why."""
    calls: dict[str, LoopedCall] = {}
    refused: dict[str, str] = {}
    for name, signature in signatures.items():
        try:
            function = _build(loaded.signatures[name], signature)
            if function is None:
                problem = "its inputs or outputs are not numeric tensors of known rank"
            else:
                problem = _check(function, single[name], signature)
                looped = LoopedCall(function)
        except Exception as e:  # a signature TensorFlow cannot loop over: served singly
            problem = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if problem:
            refused[name] = problem
        else:
            calls[name] = looped
    return calls, refused


def _build(fn: Any, signature: Signature) -> Any | None:
    """The looped function, concrete for stacks of any count of requests of any rows."""
    specs = {}
    for name, spec in signature.inputs.items():
        if spec.shape is None or spec.dtype is None or spec.dtype.kind not in "biuf":
            return None
        specs[name] = tf.TensorSpec([None, *(None for _ in spec.shape)], tf.as_dtype(spec.dtype))
    outputs = {
        name: tf.TensorSpec(None, tf.as_dtype(o.dtype))
        for name, o in signature.outputs.items()
        if o.dtype is not None
    }
    if len(outputs) != len(signature.outputs):
        return None

    @tf.function(autograph=False)
    def each(**stacked: tf.Tensor) -> dict[str, tf.Tensor]:
        return tf.map_fn(
            lambda one: fn(**one), stacked, fn_output_signature=outputs, parallel_iterations=1
        )

    return each.get_concrete_function(**specs)


def _check(function: Any, single: Callable[..., Any], signature: Signature) -> str:
    """'' when the looped call gives every sample request the single call's bits."""
    rng = np.random.default_rng(0)
    requests = [_sample(signature, rng) for _ in range(CHECK_REQUESTS)]
    stacked = {k: np.stack([r[k] for r in requests]) for k in signature.inputs}
    # Called through its Python wrapper first: that registers it with the eager context, which
    # the direct call by name (signature_call) needs.
    together = {k: np.asarray(v) for k, v in function(**stacked).items()}
    for i, request in enumerate(requests):
        alone = single(request)
        for name, value in alone.items():
            mine = np.asarray(value)
            theirs = together[name][i]
            if mine.shape != theirs.shape or mine.tobytes() != theirs.tobytes():
                return f"output {name!r} of sample request {i} differs from its own call"
    return ""


def _sample(signature: Signature, rng: np.random.Generator) -> dict[str, np.ndarray]:
    inputs = {}
    for name, spec in signature.inputs.items():
        assert spec.shape is not None and spec.dtype is not None
        shape = tuple(d if d >= 0 else 1 for d in spec.shape)
        if spec.dtype.kind == "f":
            inputs[name] = rng.standard_normal(shape).astype(spec.dtype)
        elif spec.dtype.kind == "b":
            inputs[name] = rng.integers(0, 2, shape).astype(spec.dtype)
        else:
            inputs[name] = rng.integers(0, 3, shape).astype(spec.dtype)
    return inputs

"""The data plane: resolve the model spec, check inputs, run the model, account for the request.

Every API call of both protocols goes through here; metrics and errors wrap each call once.
"""

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from service.batching.router import Scheduler
from service.config import MODEL_NAME
from service.core.types import (
    Classification,
    Metadata,
    ModelQuery,
    Prediction,
    Regression,
    Served,
)
from service.core.validation import check_inputs, fits_declared_shapes
from service.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RequestTooLarge,
    ResourceExhausted,
    ServingError,
    Unavailable,
)
from service.metrics import UNKNOWN_MODEL, Children, Metrics
from service.protos.blockserve.v1 import inspection_pb2
from service.repository.lease import ServedVersion
from service.repository.manager import ModelManager, VersionStatus
from service.runtime.signature import CLASSIFY, DEFAULT_SIGNATURE, PREDICT, REGRESS, Signature
from service.workers.loaded import LoadedVersion


@dataclass(frozen=True)
class Limits:
    max_rows_per_request: int
    saved_model_tags: frozenset[str]
    max_concurrent_requests: int = 0
    """Requests in flight at once, over both protocols; 0 for no limit."""
    signature_method_name_check: bool = False
    """--enable_signature_method_name_check: Classify and Regress only take signatures whose
    method name is theirs, not predict signatures whose outputs fit."""


@dataclass
class Tally:
    """The labels of one request, filled in as the core learns them."""

    model: str = UNKNOWN_MODEL
    version: str = ""
    signature: str = ""

    def served(self, version: LoadedVersion, signature: str = "") -> None:
        self.model, self.version, self.signature = version.name, str(version.version), signature


class DataPlane:
    """One implementation of Predict, Classify, Regress, MultiInference, metadata and status."""

    def __init__(
        self, manager: ModelManager, scheduler: Scheduler, metrics: Metrics, limits: Limits
    ) -> None:
        self._manager = manager
        self._scheduler = scheduler
        self._metrics = metrics
        self._inflight_gauge = Children(metrics.inflight)
        self._requests = Children(metrics.requests)
        self._durations = Children(metrics.request_duration)
        self._limits = limits
        self._draining = False
        self._inflight = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def drain(self) -> None:
        """Refuse new requests from now on; those in flight go on."""
        self._draining = True

    @property
    def inflight(self) -> int:
        return self._inflight

    def unready_models(self) -> list[str]:
        return self._manager.unready_models()

    @contextmanager
    def call(self, method: str, protocol: str) -> Iterator[Tally]:
        """Account for one request: in-flight gauge, duration, and its outcome's code."""
        started = time.perf_counter()
        tally = Tally()
        code = "OK"
        self._inflight += 1
        inflight = self._inflight_gauge(protocol)
        inflight.inc()
        try:
            if self._draining:
                self._metrics.rejected.labels(protocol, "shutting_down").inc()
                raise Unavailable("the server is shutting down")
            if 0 < self._limits.max_concurrent_requests < self._inflight:
                # REST gets here before reading the body, so a flood cannot fill memory.
                raise ResourceExhausted(
                    f"{self._inflight - 1} requests are in flight, the most this server takes "
                    "at once; try again later"
                )
            yield tally
        except ServingError as e:
            code = e.code
            if isinstance(e, ResourceExhausted):
                reason = "too_large" if isinstance(e, RequestTooLarge) else "overloaded"
                self._metrics.rejected.labels(protocol, reason).inc()
            raise
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except BaseException:
            code = "INTERNAL"
            raise
        finally:
            self._inflight -= 1
            inflight.dec()
            self._requests(
                tally.model, tally.version, tally.signature, method, protocol, code
            ).inc()
            self._durations(tally.model, tally.version, method, protocol).observe(
                time.perf_counter() - started
            )

    # -- inference ----------------------------------------------------------------------------

    async def predict(
        self,
        tally: Tally,
        query: ModelQuery,
        inputs: dict[str, np.ndarray],
        output_filter: list[str],
        deadline: float | None,
    ) -> Prediction:
        served = self._lease(tally, query)
        with served.lease() as model:
            signature = self._signature(model, query)
            tally.served(model, signature.name)
            outputs = _output_filter(model.name, signature, output_filter)
            check_inputs(
                model.name, signature, inputs, model.facts, self._limits.max_rows_per_request
            )
            result = await self._scheduler.run(
                model,
                signature.name,
                inputs,
                outputs,
                deadline,
                fits_declared_shapes(signature, inputs),
            )
            return Prediction(Served(model.name, model.version, signature.name), result)

    async def classify(
        self, tally: Tally, query: ModelQuery, examples: list[bytes], deadline: float | None
    ) -> Classification:
        served, result = await self._run_examples(tally, query, CLASSIFY, examples, deadline)
        rows = len(examples)
        scores = result.get("scores")
        classes = result.get("classes")
        scores = None if scores is None else scores.reshape(rows, -1)
        classes = None if classes is None else classes.reshape(rows, -1)
        width = (scores if scores is not None else classes).shape[1]
        pairs = [
            [
                (
                    _text(classes[i, j]) if classes is not None else "",
                    float(scores[i, j]) if scores is not None else 0.0,
                )
                for j in range(width)
            ]
            for i in range(rows)
        ]
        return Classification(served, pairs)

    async def regress(
        self, tally: Tally, query: ModelQuery, examples: list[bytes], deadline: float | None
    ) -> Regression:
        served, result = await self._run_examples(tally, query, REGRESS, examples, deadline)
        values = result["outputs"].reshape(len(examples), -1)
        if values.shape[1] != 1:
            raise InvalidArgument(
                f"model {served.model!r} signature {served.signature!r}: regression gives "
                f"{values.shape[1]} values per example; expected one"
            )
        return Regression(served, values[:, 0].tolist())

    async def _run_examples(
        self,
        tally: Tally,
        query: ModelQuery,
        method: str,
        examples: list[bytes],
        deadline: float | None,
    ) -> tuple[Served, dict[str, np.ndarray]]:
        """Run a classify or regress signature on serialized tf.Examples."""
        with self._lease(tally, query).lease() as model:
            signature = self._signature(model, query, method)
            tally.served(model, signature.name)
            if not examples:
                raise InvalidArgument("the request holds no examples")
            if len(signature.inputs) != 1:
                raise InvalidArgument(
                    f"signature {signature.name!r} takes {len(signature.inputs)} inputs; "
                    "classify and regress need one input of serialized tf.Examples"
                )
            (spec,) = signature.inputs.values()
            if spec.dtype != object:
                raise InvalidArgument(
                    f"signature {signature.name!r} input {spec.name!r} is {spec.describe()}; "
                    "classify and regress need serialized tf.Examples (string)"
                )
            limit = self._limits.max_rows_per_request
            if len(examples) > limit:
                raise InvalidArgument(f"{len(examples)} examples; at most {limit} per request")
            batch = {spec.name: np.array(examples, dtype=object)}
            result = await self._scheduler.run(model, signature.name, batch, (), deadline)
            return Served(model.name, model.version, signature.name), result

    # -- metadata and status ------------------------------------------------------------------

    def metadata(self, tally: Tally, query: ModelQuery) -> Metadata:
        served = self._lease(tally, query)
        with served.lease() as model:
            tally.served(model)
            served_as = Served(model.name, model.version, "")
            return Metadata(served_as, dict(model.signatures), model.platform)

    def status(self, tally: Tally, name: str, version: int | None) -> list[VersionStatus]:
        _check_name(name)
        statuses = self._manager.status(name, version)
        tally.model = name
        tally.version = "" if version is None else str(version)
        return statuses

    # -- inspection -----------------------------------------------------------------------------

    def parameter_summary(self, tally: Tally, query: ModelQuery) -> inspection_pb2.ParameterSummary:
        with self._lease(tally, query).lease() as model:
            return _summary_of(model)

    async def compare_parameters(
        self, tally: Tally, query: ModelQuery, base_version: int
    ) -> inspection_pb2.ParameterComparison:
        """How `query`'s version differs from `base_version`, which may be loaded or only on
        disk, so that a new version can be checked before it takes traffic."""
        with self._lease(tally, query).lease() as target:
            _summary_of(target)
            base_dir = self._manager.version_on_disk(target.name, base_version)
            if base_dir is None:
                raise NotFound(
                    f"model {target.name!r} has no version {base_version} under its base path"
                )
            return await target.compare(base_dir, base_version)

    def signature_of(self, tally: Tally, query: ModelQuery) -> Signature:
        """The signature a query will use: REST decodes JSON by its input dtypes."""
        with self._lease(tally, query).lease() as model:
            return self._signature(model, query)

    def lease(self, tally: Tally, query: ModelQuery) -> ServedVersion:
        """A leased version for callers outside inference (parameter summaries)."""
        return self._lease(tally, query)

    # -- helpers ------------------------------------------------------------------------------

    def _lease(self, tally: Tally, query: ModelQuery) -> ServedVersion:
        _check_name(query.name)
        served = self._manager.lease(query.name, query.version, query.label)
        tally.served(served.model)
        return served

    def _signature(self, model: LoadedVersion, query: ModelQuery, method: str = "") -> Signature:
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
        if method and not _serves(signature, method, self._limits.signature_method_name_check):
            raise InvalidArgument(
                f"signature {name!r} of model {model.name!r} has method "
                f"{signature.method_name!r} and outputs {sorted(signature.outputs)}; "
                f"this call needs {method!r}"
            )
        return signature


# TF2 exports give every signature the predict method, so TensorFlow Serving (unless told
# --enable_signature_method_name_check) takes a predict signature whose outputs fit the call.
METHOD_OUTPUTS = {
    CLASSIFY: ({"classes"}, {"scores"}, {"classes", "scores"}),
    REGRESS: ({"outputs"},),
}


def _serves(signature: Signature, method: str, strict: bool) -> bool:
    if signature.method_name == method:
        return True
    return (
        not strict
        and signature.method_name == PREDICT
        and set(signature.outputs) in METHOD_OUTPUTS[method]
    )


def _check_name(name: str) -> None:
    """Refuse a name no model can have before it is looked up anywhere."""
    if not name:
        raise InvalidArgument("the model spec has no model name")
    if not MODEL_NAME.fullmatch(name):
        raise InvalidArgument(
            f"model name {name[:100]!r} is not valid: letters, digits, '.', '_', '-'"
        )


def _summary_of(model: LoadedVersion) -> inspection_pb2.ParameterSummary:
    if model.summary is None:
        raise FailedPrecondition(
            f"model {model.name!r} version {model.version} has no parameter summary: "
            f"{model.summary_problem}"
        )
    return model.summary


def _output_filter(model: str, signature: Signature, names: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(names) - set(signature.outputs))
    if unknown:
        raise InvalidArgument(
            f"model {model!r} signature {signature.name!r} has no output {unknown}; "
            f"outputs are {sorted(signature.outputs)}"
        )
    if len(set(names)) != len(names):
        raise InvalidArgument(f"output_filter names an output twice: {names}")
    return tuple(names)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""The data plane: resolve the model spec, check inputs, run the model, account for the request.

Every API call of both protocols goes through here; metrics and errors wrap each call once.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import Message

from service.front.config import MODEL_NAME
from service.front.metrics import UNKNOWN_MODEL, Children, Metrics
from service.front.repository.lease import ServedVersion
from service.front.repository.manager import ModelManager, VersionStatus
from service.front.scheduler import DirectScheduler
from service.front.workers.crashes import named_model
from service.front.workers.loaded import LoadedVersion
from service.front.workers.pool import MAX_RESENDS, WorkerPool
from service.insight.merge import merge_insight
from service.protos.blockserve.v1 import inspection_pb2
from service.shared import channel
from service.shared.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    NotStarted,
    RequestTooLarge,
    ResourceExhausted,
    ServingError,
    Unavailable,
)
from service.shared.signature import CLASSIFY, REGRESS, Signature
from service.shared.signatures import choose_signature
from service.shared.types import (
    Classification,
    Metadata,
    ModelQuery,
    Regression,
    Served,
)

log = logging.getLogger(__name__)

_NO_HEADER = (UNKNOWN_MODEL, "", "", 0.0, 0.0, 0, "")
"""The header of a request no worker answered."""


async def _within(work: Awaitable[Any], remaining: float, timeout: float) -> Any:
    """`work`'s result, or DeadlineExceeded once `remaining` of the `timeout` has passed."""
    try:
        return await asyncio.wait_for(work, max(0.0, remaining))
    except TimeoutError:
        raise DeadlineExceeded(f"the request took longer than {timeout * 1000:.0f} ms") from None


@dataclass(frozen=True)
class Reply:
    """A forwarded request's answer: `body` is the encoded answer when `code` is OK, else the
    error's message; `extra` is the protocol's (a V2 REST binary header length, REST calls'
    request-log messages)."""

    code: str
    body: bytes | str
    extra: Any = None
    model: str = UNKNOWN_MODEL
    error: ServingError | None = None
    """The front's own error, where the front refused the request (REST maps some apart)."""


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
        self,
        manager: ModelManager,
        pool: WorkerPool,
        metrics: Metrics,
        limits: Limits,
        max_queued_requests: int,
    ) -> None:
        self._manager = manager
        self._pool = pool
        self._scheduler = DirectScheduler(metrics, max_queued_requests)
        self._metrics = metrics
        self._inflight_gauge = Children(metrics.inflight)
        self._requests = Children(metrics.requests)
        self._durations = Children(metrics.request_duration)
        self._queue_durations = Children(metrics.queue_duration)
        self._inference_durations = Children(metrics.inference_duration)
        self._batch_sizes = Children(metrics.batch_size)
        self._paths = Children(metrics.request_paths)
        self._limits = limits
        self._max_forwarded = max_queued_requests
        self._forwarded = 0
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
            self._admit(protocol)
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

    async def forward(
        self,
        kind: str,
        method: str,
        protocol: str,
        body: bytes | None,
        route: object = None,
        deadline: float | None = None,
        *,
        prepare: Callable[[], Awaitable[tuple[object, bytes]]] | None = None,
        timeout: float | None = None,
        log: bool = False,
    ) -> Reply:
        """A request whose bytes a worker decodes, checks, runs and encodes: the switchboard's
        road. Here only admission, the worker's pick and the accounting from its header.

        `prepare` gives the route and body after admission (REST reads its body then);
        `timeout` bounds the wait for the worker (REST; gRPC cancels on its own deadline)."""
        started = time.perf_counter()
        self._inflight += 1
        inflight = self._inflight_gauge(protocol)
        inflight.inc()
        header: tuple = _NO_HEADER
        named = UNKNOWN_MODEL
        code = "INTERNAL"
        reply = Reply(code, "internal error; see the server log")
        try:
            self._admit(protocol)
            if prepare is not None:  # a REST body read, within the request's timeout
                work = prepare()
                route, body = await (work if timeout is None else _within(work, timeout, timeout))
            assert body is not None
            if self._forwarded >= self._max_forwarded:
                raise ResourceExhausted(
                    f"{self._forwarded} requests are waiting for TensorFlow; try again later"
                )
            resends, resolved = 0, False
            while True:
                self._forwarded += 1
                try:
                    future = self._pool.forward(kind, route, body, time.monotonic(), deadline, log)
                    if timeout is None:
                        code, answer, extra, header = await future
                    else:
                        left = timeout - (time.perf_counter() - started)
                        code, answer, extra, header = await _within(future, left, timeout)
                except NotStarted:
                    # Its worker died before starting it: another worker takes it.
                    if resends == MAX_RESENDS:
                        raise
                    resends += 1
                    self._metrics.resent.inc()
                    continue
                finally:
                    self._forwarded -= 1
                if code != channel.UNRESOLVED:
                    break
                # The worker's table has no version for it: the repository says why, in
                # TensorFlow Serving's words; or, where one became available meanwhile, again.
                named = header[0]
                _check_name(extra[0])
                self._manager.lease(*extra).release()
                if resolved:
                    raise Unavailable(f"model {extra[0]!r} is being loaded or unloaded; try again")
                resolved = True
            reply = Reply(code, answer, extra, header[0])
        except ServingError as e:
            if isinstance(e, ResourceExhausted):
                reason = "too_large" if isinstance(e, RequestTooLarge) else "overloaded"
                self._metrics.rejected.labels(protocol, reason).inc()
            model = named if named != UNKNOWN_MODEL else header[0]
            if model == UNKNOWN_MODEL:  # refused in the front: the name it gave, if served
                given = named_model(kind, route, body)
                model = given if given in self._manager.model_names() else UNKNOWN_MODEL
            reply = Reply(e.code, str(e), None, model, e)
        except asyncio.CancelledError:
            reply = Reply("CANCELLED", "", None, header[0])
            raise
        except Exception:
            log.exception("unexpected error forwarding a %s request", method)
            reply = Reply("INTERNAL", "internal error; see the server log", None, header[0])
        finally:
            self._inflight -= 1
            inflight.dec()
            self._account(reply, header, method, protocol, started)
        return reply

    def _account(
        self, reply: Reply, header: tuple, method: str, protocol: str, started: float
    ) -> None:
        _, version, signature, queued, seconds, rows, path = header
        model = reply.model
        self._requests(model, version, signature, method, protocol, reply.code).inc()
        self._durations(model, version, method, protocol).observe(time.perf_counter() - started)
        if path:
            self._pool.used(model, version)
            self._queue_durations(model, version).observe(queued)
            self._inference_durations(model, version, signature).observe(seconds)
            self._batch_sizes(model, version).observe(rows)
            self._paths(model, version, path).inc()

    def _admit(self, protocol: str) -> None:
        if self._draining:
            self._metrics.rejected.labels(protocol, "shutting_down").inc()
            raise Unavailable("the server is shutting down")
        if 0 < self._limits.max_concurrent_requests < self._inflight:
            # REST gets here before reading the body, so a flood cannot fill memory.
            raise ResourceExhausted(
                f"{self._inflight - 1} requests are in flight, the most this server takes "
                "at once; try again later"
            )

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

    async def insight(
        self, kind: str, name: str, version: int | None, label: str | None
    ) -> Message:
        """A version's live insight (activations or drift), merged over the workers."""
        _check_name(name)
        with self._manager.lease(name, version, label).lease() as model:
            key = (model.name, model.version)
        return merge_insight(kind, await self._pool.insight(key, kind))

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
        return choose_signature(model, query, method, self._limits.signature_method_name_check)


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


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

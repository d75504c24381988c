"""The road of a forwarded request inside a worker: decode, resolve, check, run, encode.

The front sends a request's bytes as they came (a gRPC message, a REST body) with the few
facts it read off the transport (the REST route, the deadline). Here they are decoded by the
protocol's codec, resolved against the routing table, checked against the signature, run
(alone, looped with others, or with rows merged under --enable_batching) and encoded; the
front gets the answer's bytes and a small header for its metrics.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.protos.inference import grpc_service_pb2
from service.protos.tensorflow_serving.apis import predict_pb2
from service.requestlog import rest_calls
from service.shared import channel
from service.shared.codecs import rest_json as codec
from service.shared.codecs import tfserving as tfs
from service.shared.codecs import v2_grpc as v2
from service.shared.codecs import v2_rest as http_body
from service.shared.errors import DeadlineExceeded, Internal, InvalidArgument, ServingError
from service.shared.settings import ServingSettings
from service.shared.signatures import choose_signature, output_filter
from service.shared.types import ModelQuery, Prediction, Served
from service.shared.validation import check_inputs, fits_declared_shapes
from service.worker.routing import RoutingTable

log = logging.getLogger(__name__)

UNKNOWN_MODEL = "__unknown__"


class Unresolved(Exception):
    """The routing table has no version for the query: the front says why."""

    def __init__(self, query: ModelQuery) -> None:
        self.query = query


@dataclass
class Call:
    """One forwarded request on its way through the worker."""

    call_id: int
    kind: str
    sent: float
    deadline: float | None
    log: bool
    model: Any = None
    signature: str = ""
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    mergeable: bool = False
    label: str = UNKNOWN_MODEL
    encode: Callable[[dict[str, np.ndarray]], tuple[bytes, Any]] | None = None
    reply: tuple[Any, ...] | None = None
    """(code, body or message, extra, header) once answered."""
    notice: float | None = None
    """A deadline of the request's own, earlier than the front's, to tell the front."""
    large: bool = False
    """Its answer's body travels out of band (channel.frame_parts)."""


class RequestRoad:
    """Decodes and answers the forwarded requests of one worker."""

    def __init__(self, settings: ServingSettings, routes: RoutingTable) -> None:
        self.settings = settings
        self._routes = routes
        self._decoders: dict[str, Callable[[Call, Any, bytes], None]] = {
            channel.PREDICT: self._grpc_predict,
            channel.MODEL_INFER: self._grpc_infer,
            channel.REST_PREDICT: self._rest_predict,
            channel.REST_INFER: self._rest_infer,
        }

    def decode(self, message: tuple[Any, ...]) -> Call:
        """A REQUEST message as a Call ready to run, or already answered with its error."""
        kind, call_id, route, body, sent, deadline, log = message
        call = Call(call_id, kind, sent, deadline, log)
        try:
            self._decoders[kind](call, route, body)
        except Unresolved as e:
            query = e.query
            call.label = query.name if self._routes.knows(query.name) else UNKNOWN_MODEL
            call.reply = (
                channel.UNRESOLVED,
                "",
                (query.name, query.version, query.label),
                self._header(call),
            )
        except ServingError as e:
            self.fail(call, e)
        except Exception as e:  # a codec's bug must not end the worker
            log.exception("decoding a %s request failed", kind)
            self.fail(call, Internal(f"{type(e).__name__}: {e}"))
        return call

    def fail(self, call: Call, error: ServingError) -> None:
        call.reply = (error.code, str(error), None, self._header(call))

    def answer(self, call: Call, outputs: dict[str, np.ndarray], timing: tuple[Any, ...]) -> None:
        """Encode the outputs; `timing` is (started, seconds, rows, path) of the call."""
        assert call.encode is not None
        try:
            body, extra = call.encode(outputs)
        except ServingError as e:
            self.fail(call, e)
            return
        except Exception as e:
            log.exception("encoding the answer of %s failed", call.label)
            self.fail(call, Internal(f"{type(e).__name__}: {e}"))
            return
        call.large = len(body) >= channel.LARGE_BYTES
        if call.large:
            body = channel.out_of_band(body)
        call.reply = ("OK", body, extra, self._header(call, *timing))

    def _header(
        self, call: Call, started: float = 0.0, seconds: float = 0.0, rows: int = 0, path: str = ""
    ) -> tuple[Any, ...]:
        version = str(call.model.version) if call.model is not None else ""
        queued = max(0.0, started - call.sent) if started else 0.0
        return (call.label, version, call.signature, queued, seconds, rows, path)

    # -- resolving and checking ---------------------------------------------------------------

    def _label(self, call: Call, name: str) -> None:
        """A request to a served model counts under its name, even one that fails to decode."""
        if self._routes.knows(name):
            call.label = name

    def _resolve(self, call: Call, query: ModelQuery) -> Any:
        self._label(call, query.name)
        model = self._routes.resolve(query)
        if model is None:
            raise Unresolved(query)
        call.model = model
        return model

    def _prepare(
        self,
        call: Call,
        model: Any,
        query: ModelQuery,
        inputs: dict[str, np.ndarray],
        wanted: list[str],
    ) -> None:
        signature = choose_signature(model, query)
        call.signature = signature.name
        call.outputs = output_filter(model.name, signature, wanted)
        check_inputs(model.name, signature, inputs, model.facts, self.settings.max_rows_per_request)
        call.inputs = inputs
        call.mergeable = fits_declared_shapes(signature, inputs)
        if call.deadline is not None and time.monotonic() >= call.deadline:
            raise DeadlineExceeded("the deadline passed while the request waited for TensorFlow")

    # -- codecs: one per protocol ------------------------------------------------------------

    def _grpc_predict(self, call: Call, route: Any, body: bytes) -> None:
        request = _parse(predict_pb2.PredictRequest, body)
        inputs = tfs.predict_inputs(request, self.settings.max_request_bytes)
        query = tfs.query(request.model_spec)
        model = self._resolve(call, query)
        self._prepare(call, model, query, inputs, list(request.output_filter))
        tensor_content = self.settings.tensor_content

        def encode(outputs: dict[str, np.ndarray]) -> tuple[bytes, Any]:
            served = Served(model.name, model.version, call.signature)
            response = tfs.predict_response(Prediction(served, outputs), tensor_content)
            return response.SerializeToString(), None

        call.encode = encode

    def _grpc_infer(self, call: Call, route: Any, body: bytes) -> None:
        decoded = v2.infer_request(_parse(grpc_service_pb2.ModelInferRequest, body))
        model = self._resolve(call, decoded.query)
        self._prepare(call, model, decoded.query, decoded.inputs, decoded.outputs)

        def encode(outputs: dict[str, np.ndarray]) -> tuple[bytes, Any]:
            response = v2.infer_response(decoded, model.name, model.version, outputs)
            return response.SerializeToString(), None

        call.encode = encode

    def _rest_predict(self, call: Call, route: Any, body: bytes) -> None:
        name, version, label = route
        self._label(call, name)
        parsed = codec.parse_body(body)
        signature_name = parsed.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise InvalidArgument("'signature_name' must be a string")
        query = ModelQuery(name, version, label, signature_name)
        model = self._resolve(call, query)
        inputs, rows = codec.predict_inputs(parsed, choose_signature(model, query))
        self._prepare(call, model, query, inputs, [])

        def encode(outputs: dict[str, np.ndarray]) -> tuple[bytes, Any]:
            text = codec.dumps(codec.predict_response(outputs, rows)).encode()
            if not call.log:
                return text, None
            served = Served(model.name, model.version, call.signature)
            request, response, _ = rest_calls.predict(inputs, Prediction(served, outputs))
            return text, (None, (request.SerializeToString(), response.SerializeToString()))

        call.encode = encode

    def _rest_infer(self, call: Call, route: Any, body: bytes) -> None:
        name, version, header_length = route
        self._label(call, name)
        decoded = http_body.infer_request(name, version, body, header_length)
        if decoded.timeout_seconds is not None:
            until = call.sent + decoded.timeout_seconds
            if call.deadline is None or until < call.deadline:
                # The front knows only its own timeout: it is told this one before the call runs.
                call.deadline = call.notice = until
        model = self._resolve(call, decoded.query)
        self._prepare(call, model, decoded.query, decoded.inputs, decoded.outputs)

        def encode(outputs: dict[str, np.ndarray]) -> tuple[bytes, Any]:
            payload, length = http_body.infer_response(decoded, model.name, model.version, outputs)
            return payload, (length, None)

        call.encode = encode


def _parse(message_type: Any, body: bytes) -> Any:
    try:
        return message_type.FromString(body)
    except Exception as e:  # protobuf's DecodeError, or a RuntimeError from upb
        raise InvalidArgument(f"the request message does not parse: {e}") from None

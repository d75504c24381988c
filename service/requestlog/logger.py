"""Samples the calls of each model whose config asks for it and queues them as PredictionLogs."""

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial

from google.protobuf.message import Message

from service.front.metrics import Metrics
from service.protos.tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.requestlog import rest_calls
from service.requestlog.sampling import ModelLogging, model_logging
from service.requestlog.writer import LogWriter, PendingRecord
from service.shared.types import Classification, Regression

log = logging.getLogger(__name__)

BUFFER_RECORDS = 1024
BUFFER_BYTES = 256 << 20
"""Sampled calls waiting for the writer at most, in number and in the bytes of their messages;
past either they are dropped and counted."""


class RequestLogger:
    """The request log of every model: follows the repository's config (a RepositoryListener)
    and is handed each answered call by the gRPC servicer and the REST handler.

    `enabled` is false while no model logs, and is all that they check then.
    """

    def __init__(
        self,
        model_configs: Callable[[], Iterable[model_server_config_pb2.ModelConfig]],
        metrics: Metrics,
        saved_model_tags: Iterable[str],
        max_file_bytes: int,
        buffer_records: int = BUFFER_RECORDS,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        self.enabled = False
        self._model_configs = model_configs
        self._metrics = metrics
        self._tags = sorted(saved_model_tags)
        self._max_file_bytes = max_file_bytes
        self._buffer_records = buffer_records
        self._buffer_bytes = buffer_bytes
        self._models: dict[str, ModelLogging] = {}
        self._random = random.Random().random
        self._writer: LogWriter | None = None
        self._lock = threading.Lock()
        self._stopped = False

    # -- RepositoryListener -------------------------------------------------------------------

    def models_configured(self, names: list[str]) -> None:
        models = {}
        for config in self._model_configs():
            settings = model_logging(config)
            if settings is not None:
                models[config.name] = settings
        with self._lock:
            if self._stopped:
                return
            for name, settings in sorted(models.items()):
                if self._models.get(name) != settings:
                    log.info(
                        "model %s: logging %g of its calls to %s-*.tfrecord",
                        *(name, settings.sampling_rate, settings.filename_prefix),
                    )
            if models and self._writer is None:
                self._writer = LogWriter(
                    self._buffer_records, self._buffer_bytes, self._max_file_bytes, self._metrics
                )
                self._writer.start()
            self._models = models  # replaced whole: request threads read it without the lock
            self.enabled = bool(models)

    def version_available(self, model: object) -> None:
        pass

    def version_unavailable(self, name: str, version: int) -> None:
        pass

    def stop(self) -> None:
        """Write what is queued and close the files."""
        with self._lock:
            self.enabled, self._stopped = False, True
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()

    # -- calls --------------------------------------------------------------------------------
    # Each first draws, so that a call not sampled costs a dict lookup and a random number.

    def predict_bytes(self, name: str, request: bytes, response: bytes) -> None:
        """A Predict that crossed the front as bytes: parsed on the writer thread, if drawn."""
        settings = self._draw(name)
        if settings is not None:
            self._queue_predict(settings, request, response)

    def sampled(self, name: str) -> bool:
        """Draw for a REST predict before it runs: the worker then returns its call as the
        PredictRequest and PredictResponse it stands for (`rest_predict_bytes`)."""
        return self.enabled and self._draw(name) is not None

    def rest_predict_bytes(self, name: str, request: bytes, response: bytes) -> None:
        settings = self._models.get(name)
        if settings is not None:
            self._queue_predict(settings, request, response)

    def _queue_predict(self, settings: ModelLogging, request: bytes, response: bytes) -> None:
        def messages() -> tuple[Message, Message, model_pb2.ModelSpec]:
            parsed = predict_pb2.PredictResponse.FromString(response)
            return predict_pb2.PredictRequest.FromString(request), parsed, parsed.model_spec

        self._queue(settings, "predict_log", len(request) + len(response), messages)

    def classify(self, request: Message, response: Message) -> None:
        name = request.model_spec.name
        self._grpc("classify_log", name, request, response, response.model_spec)

    def regress(self, request: Message, response: Message) -> None:
        self._grpc("regress_log", request.model_spec.name, request, response, response.model_spec)

    def multi_inference(self, request: Message, response: Message) -> None:
        name = request.tasks[0].model_spec.name
        spec = response.results[0].model_spec
        self._grpc("multi_inference_log", name, request, response, spec)

    def rest_classify(self, examples: list[bytes], result: Classification) -> None:
        settings = self._draw(result.served.model)
        if settings is not None:
            messages = partial(rest_calls.classify, examples, result)
            self._queue(settings, "classify_log", sum(map(len, examples)), messages)

    def rest_regress(self, examples: list[bytes], result: Regression) -> None:
        settings = self._draw(result.served.model)
        if settings is not None:
            messages = partial(rest_calls.regress, examples, result)
            self._queue(settings, "regress_log", sum(map(len, examples)), messages)

    def _grpc(
        self,
        kind: str,
        name: str,
        request: Message,
        response: Message,
        served: model_pb2.ModelSpec,
    ) -> None:
        settings = self._draw(name)
        if settings is not None:
            size = request.ByteSize() + response.ByteSize()
            self._queue(settings, kind, size, lambda: (request, response, served))

    def _draw(self, name: str) -> ModelLogging | None:
        """The model's logging settings if this call is to be logged, else None."""
        settings = self._models.get(name)
        if settings is None or self._random() >= settings.sampling_rate:
            return None
        return settings

    def _queue(
        self,
        settings: ModelLogging,
        kind: str,
        size: int,
        messages: Callable[[], tuple[Message, Message, model_pb2.ModelSpec]],
    ) -> None:
        """Hand one sampled call to the writer; `messages` runs on the writer thread (the
        handler has returned, and nothing changes what it gives)."""
        writer = self._writer
        if writer is None:
            return
        stamp = int(time.time())
        tags = self._tags

        def build() -> bytes:
            request, response, served = messages()
            entry = prediction_log_pb2.PredictionLog()
            metadata = entry.log_metadata
            metadata.model_spec.CopyFrom(served)
            metadata.sampling_config.CopyFrom(settings.sampling_config)
            metadata.saved_model_tags.extend(tags)
            metadata.timestamp_secs = stamp
            call = getattr(entry, kind)
            call.request.CopyFrom(request)
            call.response.CopyFrom(response)
            return entry.SerializeToString()

        writer.put(PendingRecord(settings.model, settings.filename_prefix, size, build))

"""A worker's request road in the test process: real SavedModels, a RoutingTable, a RequestRoad
and an Executor assembled as `service.worker.main` assembles them, fed real request bytes.
(conftest.py explains how the road's V2 messages share the process with tritonclient's.)
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tensorflow_serving.apis import predict_pb2

from service.shared import channel
from service.shared.route import ModelRoute
from service.shared.settings import ServingSettings
from service.worker.execution import Executor
from service.worker.looped import LoopedCall, looped_calls
from service.worker.road import Call, RequestRoad
from service.worker.routing import RoutingTable
from service.worker.runtime.model_version import ModelVersion
from tests.service.wire import float_output, predict_request

SERVE = frozenset({"serve"})
SIGNATURE = "serving_default"


@dataclass
class Served:
    """A loaded version and the looped calls that passed its load-time check."""

    model: ModelVersion
    looped: dict[str, LoopedCall]
    refused: dict[str, str]

    @property
    def features(self) -> int:
        shape = self.model.signatures[SIGNATURE].inputs["x"].shape
        assert shape is not None
        return shape[-1]

    def own_call(self, x: np.ndarray) -> np.ndarray:
        """The SavedModel's own single call on these rows."""
        return self.model.run(SIGNATURE, {"x": x}, ())["y"]


def load(name: str, version_dir: Path) -> Served:
    """A version loaded as a worker loads it, its looped calls checked."""
    model = ModelVersion(name, 1, version_dir, SERVE)
    looped, refused = looped_calls(
        model.function_signatures, model.signatures, model.signature_calls
    )
    return Served(model, looped, refused)


@dataclass
class Reply:
    """A call's answer as the worker sends it to the front: (code, body, extra, header)."""

    code: str
    body: Any
    extra: Any
    header: tuple[Any, ...]

    @property
    def path(self) -> str:
        return self.header[6]

    @property
    def rows(self) -> int:
        return self.header[5]

    def y(self) -> np.ndarray:
        assert self.code == "OK", (self.code, self.body)
        return float_output(predict_pb2.PredictResponse.FromString(self.body).outputs["y"])


class Road:
    """The decode -> resolve -> check -> run -> encode road of one worker, with what the
    Executor asked TensorFlow for recorded: the rows of each call, the stacks of each looped."""

    def __init__(self, served: Iterable[Served], settings: ServingSettings | None = None) -> None:
        self.served = {s.model.name: s for s in served}
        self.settings = settings or ServingSettings(exact_batching=True)
        routes = RoutingTable({(s.model.name, 1): s.model for s in self.served.values()})
        for name in self.served:
            routes.update(name, ModelRoute((1,), {}))
        self.road = RequestRoad(self.settings, routes)
        self.executor = Executor(self.road, self._run, self._looped)
        self.single_rows: list[int] = []
        self.stacked_shapes: list[tuple[int, ...]] = []
        self._ids = iter(range(1 << 30))

    def _run(
        self, model: ModelVersion, signature: str, inputs: dict[str, Any], outputs: tuple[str, ...]
    ) -> dict[str, Any]:
        self.single_rows.append(int(next(iter(inputs.values())).shape[0]))
        return model.run(signature, inputs, outputs)

    def _looped(self, model: ModelVersion, signature: str) -> Callable[..., Any] | None:
        looped = self.served[model.name].looped.get(signature)
        if looped is None:
            return None

        def recorded(stacked: dict[str, np.ndarray]) -> Any:
            self.stacked_shapes.append(next(iter(stacked.values())).shape)
            return looped(stacked)

        return recorded

    def message(
        self, body: bytes, deadline: float | None = None, kind: str = channel.PREDICT
    ) -> tuple[Any, ...]:
        """A forwarded request as the front sends it down the channel."""
        return (kind, next(self._ids), None, body, time.monotonic(), deadline, False)

    def predict(self, name: str, x: np.ndarray, deadline: float | None = None) -> tuple[Any, ...]:
        body = predict_request(name, {"x": x}).SerializeToString()
        return self.message(body, deadline)

    def execute(self, messages: list[tuple[Any, ...]]) -> list[Reply]:
        """Decode the messages that waited together, run them as one batch, answer each."""
        calls: list[Call] = [self.road.decode(m) for m in messages]
        self.executor.execute(calls)
        replies = []
        for call in calls:
            assert call.reply is not None, f"call {call.call_id} got no answer"
            replies.append(Reply(*call.reply))
        return replies


def rows(features: int, count: int, seed: int) -> np.ndarray:
    """`count` rows of standard normal float32 inputs."""
    return np.random.default_rng(seed).standard_normal((count, features)).astype(np.float32)

"""The V2 model repository extension: index, load and unload, through the config's manager.

A load serves the current config plus the model; an unload serves it without the model. Both go
through RepositoryPoller.reload, as HandleReloadConfigRequest does, so the manager keeps a
version available while the next loads, and an unload returns once the requests still using
the model are done.
"""

import contextlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from service.front.repository.manager import ModelManager
from service.front.repository.poller import RepositoryPoller
from service.protos.tensorflow_serving.apis import get_model_status_pb2
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.shared.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ServingError,
    Unauthenticated,
)

State = get_model_status_pb2.ModelVersionStatus.State
STATES = {
    State.START: "LOADING",
    State.LOADING: "LOADING",
    State.AVAILABLE: "READY",
    State.UNLOADING: "UNLOADING",
    State.END: "UNAVAILABLE",
}
BASE_PATH_PARAMETER = "base_path"
"""The load parameter naming the base path of a model the config does not know."""
CONFIG_PARAMETER = "config"
"""Triton's load parameter: a JSON object, of which blockserve reads `base_path` (so that
tritonclient's `load_model(name, config=...)` can name one)."""


def load_base_path(parameters: Mapping[str, object]) -> str:
    """The base path a load request's parameters name, or '' for the config's own."""
    base_path = parameters.get(BASE_PATH_PARAMETER, "")
    config = parameters.get(CONFIG_PARAMETER)
    if config is not None:
        if not isinstance(config, str):
            raise InvalidArgument(f"{CONFIG_PARAMETER!r} must be a JSON object in a string")
        try:
            parsed = json.loads(config)
        except ValueError as e:
            raise InvalidArgument(f"{CONFIG_PARAMETER!r} is not JSON: {e}") from None
        if not isinstance(parsed, dict):
            raise InvalidArgument(f"{CONFIG_PARAMETER!r} must be a JSON object")
        unknown = sorted(set(parsed) - {BASE_PATH_PARAMETER})
        if unknown:
            raise InvalidArgument(
                f"{CONFIG_PARAMETER!r} holds {unknown}; blockserve reads only "
                f"{BASE_PATH_PARAMETER!r}"
            )
        base_path = parsed.get(BASE_PATH_PARAMETER, base_path)
    if not isinstance(base_path, str):
        raise InvalidArgument(f"{BASE_PATH_PARAMETER!r} must be a string")
    return base_path


@dataclass(frozen=True)
class IndexEntry:
    """One row of the repository index: a model version, or a model with none."""

    name: str
    version: str
    state: str
    reason: str


class ModelRepository:
    """Explicit model control over the manager, for both V2 adapters."""

    def __init__(
        self,
        manager: ModelManager,
        poller: RepositoryPoller,
        config: model_server_config_pb2.ModelServerConfig,
        admin_token: str,
    ) -> None:
        self._manager = manager
        self._poller = poller
        self._admin_token = admin_token
        self._lock = threading.Lock()
        # Every model this server has been told of, served now or not: a load names one of
        # these, or gives its base path.
        self._known: dict[str, model_server_config_pb2.ModelConfig] = {}
        for model in config.model_config_list.config:
            self._remember(model)

    def authorize(self, authorization: str, call: str) -> None:
        """Refuse a load or unload without `authorization: Bearer TOKEN`, if a token is set."""
        if not self._admin_token:
            return
        expected = f"Bearer {self._admin_token}"
        if not hmac.compare_digest(authorization.encode(), expected.encode()):
            raise Unauthenticated(f"{call} needs `authorization: Bearer TOKEN`")

    def index(self, ready_only: bool = False) -> list[IndexEntry]:
        served = set(self._manager.model_names())
        entries = []
        for name in sorted(served | set(self._known)):
            if name not in served:
                entries.append(IndexEntry(name, "", "UNAVAILABLE", "unloaded"))
                continue
            try:
                statuses = self._manager.status(name, None)
            except NotFound as e:
                entries.append(IndexEntry(name, "", "UNAVAILABLE", str(e)))
                continue
            if not statuses:
                entries.append(IndexEntry(name, "", "LOADING", ""))
            for status in statuses:
                state = STATES.get(status.state, "UNAVAILABLE")
                reason = status.error_message or ("unloaded" if state == "UNAVAILABLE" else "")
                entries.append(IndexEntry(name, str(status.version), state, reason))
        return [e for e in entries if e.state == "READY"] if ready_only else entries

    def load(self, name: str, base_path: str = "") -> None:
        """Serve `name` (again, picking up new versions, if served); returns once it is
        available. A model that fails to load leaves the served models as they were."""
        with self._lock:
            model = model_server_config_pb2.ModelConfig()
            if name in self._known:
                model.CopyFrom(self._known[name])
            elif not base_path:
                raise NotFound(
                    f"model {name!r} is not in the model config; name its base path in the "
                    f"load request's parameters ({BASE_PATH_PARAMETER!r})"
                )
            else:
                model.name, model.model_platform = name, "tensorflow"
            if base_path:
                model.base_path = base_path
            before = self._current()
            after = model_server_config_pb2.ModelServerConfig()
            after.CopyFrom(before)
            models = after.model_config_list.config
            kept = [m for m in models if m.name != name]
            del models[:]
            models.extend([*kept, model])
            try:
                self._poller.reload(after)
            except ServingError:
                with contextlib.suppress(ServingError):
                    self._poller.reload(before)
                raise
            self._remember(model)

    def unload(self, name: str) -> None:
        """Stop serving `name`; returns once the requests still using it have finished."""
        with self._lock:
            if name not in self._manager.model_names():
                raise NotFound(f"model {name!r} is not served")
            after = model_server_config_pb2.ModelServerConfig()
            after.CopyFrom(self._current())
            models = after.model_config_list.config
            kept = [m for m in models if m.name != name]
            del models[:]
            models.extend(kept)
            self._poller.reload(after)

    def _current(self) -> model_server_config_pb2.ModelServerConfig:
        config = model_server_config_pb2.ModelServerConfig()
        models = config.model_config_list
        for name in self._manager.model_names():
            known = self._known.get(name)
            if known is None:
                raise FailedPrecondition(
                    f"model {name!r} came from a config reload this server did not see; "
                    "change the served models with HandleReloadConfigRequest instead"
                )
            models.config.add().CopyFrom(known)
        return config

    def _remember(self, model: model_server_config_pb2.ModelConfig) -> None:
        copy = model_server_config_pb2.ModelConfig()
        copy.CopyFrom(model)
        self._known[model.name] = copy

"""The manager: loads the aspired versions, keeps one available while the next loads, unloads."""

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from service.errors import InvalidArgument, NotFound, Unavailable
from service.protos.tensorflow_serving.apis import get_model_status_pb2
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.repository.lease import ServedVersion
from service.repository.source import (
    MODEL_FILES,
    AspiredVersions,
    aspired_versions,
    complete_versions,
)
from service.workers.loaded import LoadedVersion

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State

STARTING = "the server is starting: its models are still loading; try again shortly"


class RepositoryListener(Protocol):
    """Told when versions come and go: metrics and health follow the repository through it."""

    def version_available(self, model: LoadedVersion) -> None: ...
    def version_unavailable(self, name: str, version: int) -> None: ...
    def models_configured(self, names: list[str]) -> None: ...


@dataclass
class VersionRecord:
    """One version of one model as the manager knows it; its fields change under the lock."""

    version: int
    path: Path
    state: int
    stamp: float
    error_code: str = "OK"
    error_message: str = ""
    served: ServedVersion | None = None


@dataclass(frozen=True)
class VersionStatus:
    """What GetModelStatus reports for a version."""

    version: int
    state: int
    error_code: str
    error_message: str


@dataclass(frozen=True)
class LoadPolicy:
    """How versions load and unload: tensorflow_model_server's --num_load_threads,
    --num_unload_threads, --max_num_load_retries and --load_retry_interval_micros."""

    load_threads: int = 0
    """Versions loaded at once; 0 or 1: one after another."""
    unload_threads: int = 0
    max_retries: int = 0
    """Times a failed load is tried again before it is reported failed."""
    retry_interval_seconds: float = 0.0


@dataclass
class ModelEntry:
    config: model_server_config_pb2.ModelConfig
    versions: dict[int, VersionRecord] = field(default_factory=dict)
    problem: str = ""


def _stamp(path: Path) -> float:
    stamps = [0.0]
    for name in MODEL_FILES:
        with contextlib.suppress(OSError):  # not there, or gone since
            stamps.append((path / name).stat().st_mtime)
    return max(stamps)


class ModelManager:
    """Owns every loaded version. Requests lease versions; one thread at a time reconciles."""

    def __init__(
        self,
        load: Callable[[str, int, Path], LoadedVersion],
        allow_labels_for_unavailable: bool = False,
        policy: LoadPolicy = LoadPolicy(),
    ) -> None:
        self._load = load
        self._policy = policy
        self._stopping = threading.Event()
        self._listeners: list[RepositoryListener] = []
        self._allow_unavailable_labels = allow_labels_for_unavailable
        self._lock = threading.Lock()
        self._reconciling = threading.Lock()
        self._models: dict[str, ModelEntry] = {}
        self._retired: dict[str, ModelEntry] = {}
        # Set once the first pass has loaded (or failed) every configured model: until then a
        # request no version answers yet is told to come back, not that there is no such model.
        self._first_pass_done = threading.Event()

    def subscribe(self, listener: RepositoryListener) -> None:
        """Tell `listener` from now on when versions come and go (before `configure`)."""
        self._listeners.append(listener)

    # -- configuration ------------------------------------------------------------------------

    def configure(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serve exactly the models of `config`; models left out are unloaded at the next pass."""
        wanted = {m.name: m for m in config.model_config_list.config}
        with self._lock:
            for name in list(self._models):
                if name not in wanted:
                    self._retired[name] = self._models.pop(name)
            for name, model_config in wanted.items():
                entry = self._models.setdefault(name, ModelEntry(model_config))
                entry.config = model_config
        for listener in self._listeners:
            listener.models_configured(sorted(wanted))

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def model_configs(self) -> list[model_server_config_pb2.ModelConfig]:
        """The served models' configs, as last configured."""
        with self._lock:
            return [entry.config for entry in self._models.values()]

    # -- reconciling --------------------------------------------------------------------------

    def reconcile(self) -> None:
        """One pass: load aspired versions not yet loaded, then unload what is no longer aspired."""
        with self._reconciling:
            with self._lock:
                entries = list(self._models.values())
                retired, self._retired = list(self._retired.values()), {}
            for entry in retired:
                self._unload_all(entry)
            loads, aspirations = [], []
            for entry in entries:
                aspired = aspired_versions(entry.config)
                entry.problem = aspired.problem
                aspirations.append((entry, aspired))
                loads += [(entry, v, aspired.versions[v]) for v in sorted(aspired.versions)[::-1]]
            try:
                _each(lambda job: self._load_if_needed(*job), loads, self._policy.load_threads)
                for entry, aspired in aspirations:
                    self._unload_unaspired(entry, aspired)
            finally:
                self._first_pass_done.set()

    def stop_loading(self) -> None:
        """Give up waiting to retry failed loads: the server is stopping."""
        self._stopping.set()

    def _load_if_needed(self, entry: ModelEntry, version: int, path: Path) -> None:
        name = entry.config.name
        with self._lock:
            record = entry.versions.get(version)
            stamp = _stamp(path)
            if record is not None:
                unloaded = record.state == State.END and record.error_code == "OK"
                failed = record.state == State.END and record.error_code != "OK"
                # Load again what was unloaded and is aspired anew, or failed and was replaced.
                if not (unloaded or (failed and record.stamp != stamp)):
                    return
            record = VersionRecord(version, path, State.LOADING, stamp)
            entry.versions[version] = record
        attempts = 0
        while True:
            attempts += 1
            try:
                model = self._load(name, version, path)
                break
            except Exception as e:
                retry = attempts <= self._policy.max_retries and not self._stopping.is_set()
                log.error(
                    "model %s version %d failed to load (attempt %d)%s: %s",
                    *(name, version, attempts, "; retrying" if retry else "", e),
                )
                if retry:
                    self._stopping.wait(max(0.0, self._policy.retry_interval_seconds))
                    retry = not self._stopping.is_set()
                if not retry:
                    tries = f" (tried {attempts} times)" if attempts > 1 else ""
                    with self._lock:
                        record.state, record.error_code = State.END, "UNKNOWN"
                        record.error_message = f"failed to load {path}{tries}: {e}"
                    return
        with self._lock:
            record.served = ServedVersion(model)
            record.state = State.AVAILABLE
        log.info("model %s version %d is available (%.2fs)", name, version, model.load_seconds)
        for listener in self._listeners:
            listener.version_available(model)

    def _unload_unaspired(self, entry: ModelEntry, aspired: AspiredVersions) -> None:
        with self._lock:
            replacement_ready = any(
                r.state == State.AVAILABLE
                for v, r in entry.versions.items()
                if v in aspired.versions
            )
            going = [
                r
                for v, r in entry.versions.items()
                if v not in aspired.versions
                and r.state == State.AVAILABLE
                and (replacement_ready or not aspired.versions)
            ]
        _each(
            lambda record: self._unload(entry.config.name, record),
            going,
            self._policy.unload_threads,
        )

    def _unload_all(self, entry: ModelEntry) -> None:
        for record in list(entry.versions.values()):
            if record.state == State.AVAILABLE:
                self._unload(entry.config.name, record)

    def _unload(self, name: str, record: VersionRecord) -> None:
        with self._lock:
            record.state = State.UNLOADING
            served, record.served = record.served, None
        if served is not None:
            served.retire()
        with self._lock:
            record.state = State.END
        log.info("model %s version %d unloaded", name, record.version)
        for listener in self._listeners:
            listener.version_unavailable(name, record.version)

    def shutdown(self) -> None:
        """Unload every version, waiting for the requests that use them."""
        self._stopping.set()
        with self._reconciling:
            with self._lock:
                entries = list(self._models.values()) + list(self._retired.values())
            for entry in entries:
                self._unload_all(entry)

    # -- requests -----------------------------------------------------------------------------

    def lease(self, name: str, version: int | None, label: str | None) -> ServedVersion:
        """Resolve a model spec to a loaded version and take a lease on it.

        The caller must `release()` it (or use `ServedVersion.lease()`).
        """
        for _ in range(3):
            with self._lock:
                served = self._resolve(name, version, label)
            if served.try_acquire():
                return served
        raise Unavailable(f"model {name!r} is being unloaded")

    def _resolve(self, name: str, version: int | None, label: str | None) -> ServedVersion:
        try:
            return self._resolve_loaded(name, version, label)
        except NotFound:
            # tensorflow_model_server opens its ports only once its models have loaded, so a
            # client calling early sees UNAVAILABLE; clients (TensorFlow Serving's own tests
            # among them) take "Servable not found" to mean the server is up.
            if not self._first_pass_done.is_set():
                raise Unavailable(STARTING) from None
            raise

    def _resolve_loaded(self, name: str, version: int | None, label: str | None) -> ServedVersion:
        entry = self._models.get(name)
        if entry is None:
            raise NotFound(f"{_not_found(name, version)}: model {name!r} is not served")
        available = {v: r.served for v, r in entry.versions.items() if r.state == State.AVAILABLE}
        if label is not None:
            labels = entry.config.version_labels
            if label not in labels:
                # TensorFlow Serving's code: INVALID_ARGUMENT (HTTP 400), not NOT_FOUND.
                raise InvalidArgument(
                    f"Unrecognized servable version label: {label!r} (model {name!r} has "
                    f"{sorted(labels) or 'no labels'})"
                )
            version = labels[label]
        if version is None:
            if not available:
                raise NotFound(f"{_not_found(name, None)}: model {name!r} has no available version")
            version = max(available)
        served = available.get(version)
        if served is None:
            known = ", ".join(map(str, sorted(available))) or "none"
            raise NotFound(
                f"{_not_found(name, version)}: version {version} of model {name!r} is not "
                f"available (available: {known})"
            )
        return served

    def status(self, name: str, version: int | None) -> list[VersionStatus]:
        """TensorFlow Serving's ModelVersionStatus for one version or all of a model."""
        with self._lock:
            entry = self._models.get(name)
            if entry is None:
                raise NotFound(f"model {name!r} is not served")
            records = sorted(entry.versions.values(), key=lambda r: r.version)
            if version is not None:
                records = [r for r in records if r.version == version]
                if not records:
                    raise NotFound(f"model {name!r} has no version {version}")
            if not records and entry.problem:
                raise NotFound(f"model {name!r}: {entry.problem}")
            return [
                VersionStatus(r.version, r.state, r.error_code, r.error_message) for r in records
            ]

    def version_on_disk(self, name: str, version: int) -> Path | None:
        """The folder of a complete version under the model's base path, loaded or not."""
        with self._lock:
            entry = self._models.get(name)
            base = Path(entry.config.base_path) if entry else None
        if base is None:
            return None
        try:
            return complete_versions(base).get(version)
        except OSError:
            return None

    def label_for(self, name: str, version: int) -> list[str]:
        with self._lock:
            entry = self._models.get(name)
            labels = entry.config.version_labels if entry else {}
            return sorted(k for k, v in labels.items() if v == version)

    def unready_models(self) -> list[str]:
        """Configured models with no available version (readiness is their absence)."""
        with self._lock:
            return sorted(
                name
                for name, entry in self._models.items()
                if not any(r.state == State.AVAILABLE for r in entry.versions.values())
            )

    def check_labels(self, config: model_server_config_pb2.ModelServerConfig) -> str:
        """Why `config`'s version labels cannot apply now, or '' if they can."""
        if self._allow_unavailable_labels:
            return ""
        for model in config.model_config_list.config:
            aspired = aspired_versions(model).versions
            with self._lock:
                entry = self._models.get(model.name)
                loaded = (
                    {v for v, r in entry.versions.items() if r.state == State.AVAILABLE}
                    if entry
                    else set()
                )
            for label, version in model.version_labels.items():
                if version not in aspired and version not in loaded:
                    return (
                        f"model {model.name!r}: label {label!r} names version {version}, "
                        "which is neither loaded nor on disk"
                    )
        return ""


def _not_found(name: str, version: int | None) -> str:
    """TensorFlow Serving's words for a request no loaded version answers; clients match them."""
    spec = f"Latest({name})" if version is None else f"Specific({name}, {version})"
    return f"Servable not found for request: {spec}"


def _each(work: Callable[[object], None], items: Iterable[object], threads: int) -> None:
    """`work` on every item: one after another, or on up to `threads` threads at once."""
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(min(threads, len(items)), thread_name_prefix="repository") as pool:
        list(pool.map(work, items))

"""The manager: loads the aspired versions, keeps one available while the next loads, unloads.

Loads run on a pool of --num_load_threads threads. A failed attempt is reported at once and
tried again after --load_retry_interval_micros on a timer, which holds no load thread, so the
other versions load meanwhile; a retry is dropped once its version is no longer aspired. A
version whose load kills a TensorFlow worker is quarantined: not tried again until its files
change or the model config is reloaded.
"""

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from service.front.repository.attempts import FailedAttempt
from service.front.repository.lease import ServedVersion
from service.front.repository.source import (
    AspiredVersions,
    Fingerprint,
    aspired_versions,
    complete_versions,
    fingerprint,
)
from service.front.workers.loaded import LoadedVersion
from service.protos.tensorflow_serving.apis import get_model_status_pb2
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.shared.errors import InvalidArgument, NotFound, Unavailable
from service.shared.types import VersionStatus

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State

STARTING = "the server is starting: its models are still loading; try again shortly"


class RepositoryListener(Protocol):
    """Told when versions come and go: metrics and health follow the repository through it."""

    def version_available(self, model: LoadedVersion) -> None: ...
    def version_unavailable(self, name: str, version: int) -> None: ...
    def models_configured(self, names: list[str]) -> None: ...


@runtime_checkable
class LoadFailureListener(Protocol):
    """Told of every failed load attempt and of quarantined versions (the metrics are one)."""

    def load_failed(self, name: str, version: int) -> None: ...
    def versions_quarantined(self, name: str, count: int) -> None: ...


@dataclass(eq=False)
class VersionRecord:
    """One version of one model as the manager knows it; its fields change under the lock."""

    version: int
    path: Path
    state: int
    fingerprint: Fingerprint
    error_code: str = "OK"
    error_message: str = ""
    served: ServedVersion | None = None
    attempting: bool = False
    """An attempt is queued or running: it holds (or waits for) a load thread."""
    retry: threading.Timer | None = None
    """The wait before the next attempt: it holds no load thread."""
    failure: FailedAttempt | None = None
    """The last failed attempt."""
    overlapped: bool = False
    """Another load ran during the current attempt."""
    suspect: bool = False
    """A worker died while this version loaded beside others: its next attempt runs alone, so
    that a death then is its own."""

    @property
    def failed(self) -> bool:
        return self.state == State.END and self.error_code != "OK"

    @property
    def quarantined(self) -> bool:
        return self.failed and self.failure is not None and self.failure.quarantine


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


@dataclass(eq=False)
class ModelEntry:
    config: model_server_config_pb2.ModelConfig
    versions: dict[int, VersionRecord] = field(default_factory=dict)
    aspired: AspiredVersions | None = None
    """What the last pass read off the base path."""
    problem: str = ""
    quarantined: int = 0
    """Quarantined versions as last told to the listeners."""


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
        self._failure_listeners: list[LoadFailureListener] = []
        self._allow_unavailable_labels = allow_labels_for_unavailable
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        """Notified whenever an attempt ends."""
        self._reconciling = threading.Lock()
        self._models: dict[str, ModelEntry] = {}
        self._retired: dict[str, ModelEntry] = {}
        self._running: set[VersionRecord] = set()
        """Versions whose attempt is running now."""
        self._alone: VersionRecord | None = None
        """A suspect's attempt, running with no other."""
        self._loads = ThreadPoolExecutor(max(1, policy.load_threads), thread_name_prefix="load")
        # Unloads that follow a load run here, so that a version waiting for its last requests
        # holds no load thread.
        self._unloads = ThreadPoolExecutor(
            max(1, policy.unload_threads), thread_name_prefix="unload"
        )
        # Set once the first pass has loaded (or failed) every configured model: until then a
        # request no version answers yet is told to come back, not that there is no such model.
        self._first_pass_done = threading.Event()

    def subscribe(self, listener: RepositoryListener) -> None:
        """Tell `listener` from now on when versions come and go (before `configure`), and of
        failed loads if it is also a LoadFailureListener."""
        self._listeners.append(listener)
        if isinstance(listener, LoadFailureListener):
            self._failure_listeners.append(listener)

    # -- configuration ------------------------------------------------------------------------

    def configure(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serve exactly the models of `config`; models left out are unloaded at the next pass.

        Versions that failed to load (quarantined ones too) are tried again: a config reload is
        how an operator says "try again" without touching the files.
        """
        wanted = {m.name: m for m in config.model_config_list.config}
        with self._lock:
            for name in list(self._models):
                if name not in wanted:
                    self._retired[name] = self._models.pop(name)
            for name, model_config in wanted.items():
                entry = self._models.setdefault(name, ModelEntry(model_config))
                entry.config = model_config
                for version, record in list(entry.versions.items()):
                    if record.failed:
                        del entry.versions[version]
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

    def reconcile(self, wait: bool = True) -> None:
        """One pass: start loading aspired versions not yet loaded, drop retries of versions no
        longer aspired, unload what is no longer aspired once a replacement serves.

        With `wait`, returns once every aspired version has loaded or failed an attempt (its
        retries go on in the background) and the versions it replaced have unloaded; the first
        such pass ends the start-up.
        """
        with self._reconciling:
            with self._lock:
                entries = list(self._models.values())
                retired, self._retired = list(self._retired.values()), {}
            for entry in retired:
                self._retire_model(entry)
            for entry in entries:
                aspired = aspired_versions(entry.config)
                self._note_problem(entry, aspired)
                with self._lock:
                    entry.aspired = aspired
                    self._drop_unaspired_retries(entry)
                    for version in sorted(aspired.versions, reverse=True):
                        self._start_if_needed(entry, version, aspired.versions[version])
            self._report_quarantines(entries)
        if wait:
            try:
                self._wait_for_attempts(entries)
            finally:
                self._first_pass_done.set()
        for entry in entries:
            self._unload_unaspired(entry)

    def stop_loading(self) -> None:
        """Start no more loads and drop the retries waiting: the server is stopping."""
        self._stopping.set()
        with self._lock:
            for entry in [*self._models.values(), *self._retired.values()]:
                for record in entry.versions.values():
                    self._give_up(record, "the server is stopping")
            self._changed.notify_all()

    def _note_problem(self, entry: ModelEntry, aspired: AspiredVersions) -> None:
        """Warn once when a model's base path yields no version (and once when it does again)."""
        name = entry.config.name
        if aspired.problem and aspired.problem != entry.problem:
            log.warning("model %s has no version to serve: %s", name, aspired.problem)
        elif entry.problem and not aspired.problem:
            log.info("model %s: versions %s found", name, sorted(aspired.versions))
        entry.problem = aspired.problem

    def _start_if_needed(self, entry: ModelEntry, version: int, path: Path) -> None:
        """Under the lock: queue a first attempt unless the version is loading, loaded, or
        failed with the files it has now."""
        record = entry.versions.get(version)
        current = fingerprint(path)
        if record is not None:
            unloaded = record.state == State.END and not record.failed
            if not (unloaded or (record.failed and record.fingerprint != current)):
                return
        if self._stopping.is_set():
            return
        record = VersionRecord(version, path, State.LOADING, current, attempting=True)
        entry.versions[version] = record
        self._loads.submit(self._attempt, entry, record)

    def _wait_for_attempts(self, entries: list[ModelEntry]) -> None:
        def settled() -> bool:
            return self._stopping.is_set() or not any(
                record.attempting or record.state == State.UNLOADING
                for entry in entries
                if entry.aspired is not None
                for version, record in entry.versions.items()
                if version in entry.aspired.versions or record.state == State.UNLOADING
            )

        with self._changed:
            self._changed.wait_for(settled)

    # -- one attempt --------------------------------------------------------------------------

    def _attempt(self, entry: ModelEntry, record: VersionRecord) -> None:
        """On a load thread: one attempt at loading `record`'s version."""
        name = entry.config.name
        with self._changed:
            self._changed.wait_for(lambda: self._may_start(record))
            if not self._is_current(entry, record):
                record.attempting = False
                self._changed.notify_all()
                return
            if record.suspect:
                self._alone = record
            record.overlapped = bool(self._running)
            for other in self._running:
                other.overlapped = True
            self._running.add(record)
        try:
            model = self._load(name, record.version, record.path)
        except Exception as e:
            self._attempt_ended(record)
            try:
                self._attempt_failed(entry, record, e)
            finally:
                self._settle(record)
            return
        self._attempt_ended(record)
        try:
            self._attempt_succeeded(entry, record, model)
        finally:  # the listeners have been told: a pass waiting for this attempt may end
            self._settle(record)

    def _attempt_succeeded(
        self, entry: ModelEntry, record: VersionRecord, model: LoadedVersion
    ) -> None:
        name = entry.config.name
        with self._lock:
            keep = self._is_current(entry, record)
            going = []
            if keep:
                record.served = ServedVersion(model)
                record.state, record.error_code, record.error_message = State.AVAILABLE, "OK", ""
                # Taken now, so that a pass waiting for this attempt also waits for them.
                going = self._take_unaspired(entry)
        if not keep:  # its model was dropped from the config while it loaded
            model.close()
            return
        seconds = model.load_seconds
        log.info("model %s version %d is available (%.2fs)", name, record.version, seconds)
        for listener in self._listeners:
            listener.version_available(model)
        for replaced in going:
            self._unloads.submit(self._unload, name, replaced)

    def _settle(self, record: VersionRecord) -> None:
        with self._lock:
            record.attempting = False
            self._changed.notify_all()

    def _may_start(self, record: VersionRecord) -> bool:
        """Under the lock: a suspect starts once no other load runs; others wait for it."""
        if self._stopping.is_set():
            return True
        if record.suspect:
            return not self._running and self._alone is None
        return self._alone is None

    def _attempt_ended(self, record: VersionRecord) -> None:
        with self._lock:
            self._running.discard(record)
            if self._alone is record:
                self._alone = None
            self._changed.notify_all()

    def _attempt_failed(self, entry: ModelEntry, record: VersionRecord, error: Exception) -> None:
        name = entry.config.name
        with self._lock:
            number = record.failure.number + 1 if record.failure else 1
            failure = FailedAttempt(
                record.path, number, self._policy.max_retries + 1, error, not record.overlapped
            )
            record.failure, record.error_code = failure, failure.code
            record.suspect = failure.suspect
            interval = max(0.0, self._policy.retry_interval_seconds)
            retry = failure.retry and not self._stopping.is_set()
            if retry and self._is_current(entry, record):
                record.error_message = failure.retrying_message(interval)
                record.retry = threading.Timer(interval, self._retry, (entry, record))
                record.retry.daemon = True
                record.retry.start()
                then = f"next attempt in {interval:g} s"
            else:
                record.state = State.END
                record.error_message = failure.final_message()
                then = record.error_message if failure.quarantine else "not tried again"
            self._changed.notify_all()
        log.error(
            "model %s version %d failed to load (attempt %d of %d): %s; %s",
            *(name, record.version, number, failure.allowed, error, then),
        )
        for listener in self._failure_listeners:
            listener.load_failed(name, record.version)
        if failure.quarantine:
            self._report_quarantines([entry])

    def _retry(self, entry: ModelEntry, record: VersionRecord) -> None:
        """On the retry's timer: queue the next attempt if the version is still aspired."""
        aspired = aspired_versions(entry.config).versions
        with self._lock:
            if record.retry is None or not self._is_current(entry, record):
                return  # dropped meanwhile
            if aspired.get(record.version) != record.path:
                self._give_up(record, "the version is no longer aspired")
            elif self._stopping.is_set():
                self._give_up(record, "the server is stopping")
            else:
                record.retry = None
                record.attempting, record.fingerprint = True, fingerprint(record.path)
                self._loads.submit(self._attempt, entry, record)
            self._changed.notify_all()

    def _drop_unaspired_retries(self, entry: ModelEntry) -> None:
        """Under the lock: versions waiting to be retried that are no longer aspired end, and
        failed ones are tried afresh if they come back."""
        aspired = entry.aspired.versions if entry.aspired else {}
        for version, record in entry.versions.items():
            if version not in aspired:
                self._give_up(record, "the version is no longer aspired")
                if record.failed:
                    record.fingerprint = ()

    def _give_up(self, record: VersionRecord, why: str) -> None:
        """Under the lock: end a version waiting for its next attempt."""
        if record.retry is None:
            return
        record.retry.cancel()
        record.retry = None
        record.state = State.END
        if record.failure is not None:
            record.error_message = record.failure.given_up_message(why)
        log.info("model version %s: stopped retrying: %s", record.path, why)

    def _is_current(self, entry: ModelEntry, record: VersionRecord) -> bool:
        """Under the lock: the record is still its model's, and the model still configured."""
        name = entry.config.name
        return self._models.get(name) is entry and entry.versions.get(record.version) is record

    def _report_quarantines(self, entries: Iterable[ModelEntry]) -> None:
        changed = []
        with self._lock:
            for entry in entries:
                aspired = entry.aspired.versions if entry.aspired else {}
                count = sum(r.quarantined for v, r in entry.versions.items() if v in aspired)
                if self._models.get(entry.config.name) is not entry:
                    count = 0
                if count != entry.quarantined:
                    entry.quarantined = count
                    changed.append((entry.config.name, count))
        for name, count in changed:
            for listener in self._failure_listeners:
                listener.versions_quarantined(name, count)

    # -- unloading ----------------------------------------------------------------------------

    def _unload_unaspired(self, entry: ModelEntry) -> None:
        with self._lock:
            going = self._take_unaspired(entry)
        _each(
            lambda record: self._unload(entry.config.name, record),
            going,
            self._policy.unload_threads,
        )

    def _take_unaspired(self, entry: ModelEntry) -> list[VersionRecord]:
        """Under the lock: mark UNLOADING the versions no longer aspired whose replacement
        serves (or that have none: their folders are gone)."""
        aspired = entry.aspired.versions if entry.aspired else {}
        replacement_ready = any(
            r.state == State.AVAILABLE for v, r in entry.versions.items() if v in aspired
        )
        going = [
            r
            for v, r in entry.versions.items()
            if v not in aspired
            and r.state == State.AVAILABLE
            and (replacement_ready or not aspired)
        ]
        for record in going:
            record.state = State.UNLOADING
        return going

    def _retire_model(self, entry: ModelEntry) -> None:
        """A model dropped from the config: its retries end, its versions unload."""
        with self._lock:
            for record in entry.versions.values():
                self._give_up(record, "its model is no longer configured")
        self._report_quarantines([entry])
        self._unload_all(entry)

    def _unload_all(self, entry: ModelEntry) -> None:
        with self._lock:
            going = [r for r in entry.versions.values() if r.state == State.AVAILABLE]
            for record in going:
                record.state = State.UNLOADING
        for record in going:
            self._unload(entry.config.name, record)

    def _unload(self, name: str, record: VersionRecord) -> None:
        """Unload a version already marked UNLOADING."""
        with self._lock:
            served, record.served = record.served, None
        if served is not None:
            served.retire()
        with self._lock:
            record.state = State.END
            self._changed.notify_all()
        log.info("model %s version %d unloaded", name, record.version)
        for listener in self._listeners:
            listener.version_unavailable(name, record.version)

    def shutdown(self) -> None:
        """Unload every version, waiting for the requests that use them."""
        self.stop_loading()
        self._loads.shutdown(wait=True)
        self._unloads.shutdown(wait=True)
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

    def note_serving_problem(self, name: str, version: int, message: str) -> None:
        """Say in an available version's status what is wrong while it serves (its requests
        keep killing workers): the state stays AVAILABLE and the code OK, as it still answers;
        the message goes when the version is loaded again."""
        with self._lock:
            entry = self._models.get(name)
            record = entry.versions.get(version) if entry else None
            if record is not None and record.state == State.AVAILABLE:
                record.error_message = message

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

"""The repository's own thread: polls base paths and the config file, and applies reloads."""

import logging
import threading
from pathlib import Path

from service.front.config import ConfigError, check_model_config, read_model_config
from service.front.repository.manager import ModelManager
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.shared.errors import FailedPrecondition, InvalidArgument, NotFound

log = logging.getLogger(__name__)


class RepositoryPoller:
    """Keeps the manager in step with the file system and the model config file."""

    def __init__(
        self,
        manager: ModelManager,
        poll_seconds: float,
        config_file: str = "",
        config_poll_seconds: float = 0,
    ) -> None:
        self._manager = manager
        self._poll_seconds = poll_seconds if poll_seconds > 0 else None
        self._config_file = config_file
        self._config_poll_seconds = config_poll_seconds
        self._config_text = Path(config_file).read_text() if config_file else ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="repository", daemon=True)

    def start(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Configure, load every model once (blocking), then poll in the background."""
        self._manager.configure(config)
        self._manager.reconcile()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def reload(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serve `config` from now on (HandleReloadConfigRequest); returns once it has loaded."""
        try:
            check_model_config(config, "the new config")
        except ConfigError as e:
            raise InvalidArgument(str(e)) from None
        problem = self._manager.check_labels(config)
        if problem:
            raise FailedPrecondition(problem)
        self._manager.configure(config)
        self._manager.reconcile()
        unready = set(self._manager.unready_models()) & {
            m.name for m in config.model_config_list.config
        }
        if unready:
            reasons = "; ".join(f"{name}: {self._why_unready(name)}" for name in sorted(unready))
            raise FailedPrecondition(f"models with no loadable version: {reasons}")

    def _why_unready(self, name: str) -> str:
        """The newest version's error (retries may still be going on), or the base path's."""
        try:
            statuses = self._manager.status(name, None)
        except NotFound as e:
            return str(e)
        errors = [s.error_message for s in statuses[::-1] if s.error_message]
        return errors[0] if errors else "no version loaded"

    def _run(self) -> None:
        since_config = 0.0
        interval = self._poll_seconds or 1.0
        while not self._stop.wait(interval):
            since_config += interval
            if self._config_poll_seconds > 0 and since_config >= self._config_poll_seconds:
                since_config = 0.0
                self._reread_config()
            if self._poll_seconds:
                try:
                    # Loads go on in the background: a slow one never delays the next poll.
                    self._manager.reconcile(wait=False)
                except Exception:
                    log.exception("polling the model folders failed")

    def _reread_config(self) -> None:
        try:
            text = Path(self._config_file).read_text()
            if text == self._config_text:
                return
            config = read_model_config(self._config_file)
        except (OSError, ConfigError) as e:
            log.error("kept the current models: %s", e)
            return
        self._config_text = text
        log.info("model config %s changed; applying it", self._config_file)
        self._manager.configure(config)

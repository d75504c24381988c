"""The assembled server: repository, data plane, gRPC and REST, started and stopped together."""

import asyncio
import logging
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection
from tensorflow_serving.apis import (
    model_service_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from service.batching.params import read_batching_parameters
from service.batching.router import BatchingMode, Scheduler
from service.config import ConfigError, ServerConfig, read_text_proto
from service.core.dataplane import DataPlane, Limits
from service.grpc.inspection import InspectionServicer
from service.grpc.model_service import ModelServicer
from service.grpc.prediction import PredictionServicer
from service.health import NOT_SERVING, SERVING, HealthFollower
from service.metrics import Metrics
from service.protos.blockserve.v1 import inspection_pb2, inspection_pb2_grpc, server_config_pb2
from service.repository.manager import ModelManager
from service.repository.poller import RepositoryPoller
from service.rest.app import RestApi
from service.runtime.model_version import ModelVersion

log = logging.getLogger(__name__)

SERVICES = (
    prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name,
    model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    inspection_pb2.DESCRIPTOR.services_by_name["ModelInspectionService"].full_name,
)
"""The gRPC services of ours and TensorFlow Serving's, for reflection and health."""


def metrics_paths(config: ServerConfig) -> tuple[str, ...]:
    """/metrics, and the path --monitoring_config_file's prometheus_config names."""
    paths = ["/metrics"]
    if config.monitoring_config_file:
        monitoring = read_text_proto(
            config.monitoring_config_file,
            server_config_pb2.MonitoringConfig(),
            "monitoring config",
        )
        prometheus = monitoring.prometheus_config
        if prometheus.enable:
            path = prometheus.path or "/monitoring/prometheus/metrics"
            if not path.startswith("/"):
                raise ConfigError(f"prometheus_config path {path!r} must start with '/'")
            if path not in paths:
                paths.append(path)
    return tuple(paths)


def grpc_credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    """TLS, and mutual TLS with client_verify, from --ssl_config_file."""
    if not config.ssl_config_file:
        return None
    ssl_config = read_text_proto(
        config.ssl_config_file, server_config_pb2.SSLConfig(), "SSL config"
    )
    if not ssl_config.server_key or not ssl_config.server_cert:
        raise ConfigError(f"SSL config {config.ssl_config_file} needs server_key and server_cert")
    return grpc.ssl_server_credentials(
        [(ssl_config.server_key.encode(), ssl_config.server_cert.encode())],
        root_certificates=ssl_config.custom_ca.encode() or None,
        require_client_auth=ssl_config.client_verify,
    )


def rest_ssl_context(config: ServerConfig) -> ssl.SSLContext | None:
    if not config.rest_tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.rest_tls_cert_file, config.rest_tls_key_file)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot use --rest_tls_cert_file/--rest_tls_key_file: {e}") from e
    return context


def admin_token(config: ServerConfig) -> str:
    if not config.admin_token_file:
        return ""
    try:
        token = Path(config.admin_token_file).read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot read --admin_token_file: {e.strerror}") from e
    if not token:
        raise ConfigError(f"--admin_token_file {config.admin_token_file} is empty")
    return token


class BlockServer:
    """Everything one server process runs."""

    def __init__(
        self, config: ServerConfig, models: model_server_config_pb2.ModelServerConfig
    ) -> None:
        self.config = config
        self._models = models
        # Checked before anything starts, so that a bad file stops the server at once.
        self._metrics_paths = metrics_paths(config)
        self._grpc_credentials = grpc_credentials(config)
        self._rest_ssl = rest_ssl_context(config)
        self._admin_token = admin_token(config)
        self._batching = read_batching_parameters(config.batching_parameters_file)
        self.metrics = Metrics(config.max_parameter_series)
        self.grpc_port = 0
        self.rest_port = 0
        self.calls_left_running = False

    def _load(self, name: str, version: int, path: Path) -> ModelVersion:
        model = ModelVersion(name, version, path, self.config.saved_model_tags)
        if self.config.enable_model_warmup:
            started = time.perf_counter()
            model.warm_up()
            model.load_seconds += time.perf_counter() - started
        return model

    async def start(self) -> None:
        """Open both ports, then load the configured models in the background."""
        config = self.config
        threads = max(config.inference_threads, self._batching.num_batch_threads)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="inference")
        self._health = health_aio.HealthServicer()
        mode = {None: BatchingMode.AUTO, True: BatchingMode.ON, False: BatchingMode.OFF}
        scheduler = Scheduler(
            mode[config.enable_batching],
            self._batching,
            self._executor,
            self.metrics,
            config.max_queued_requests,
        )
        self.manager = ModelManager(self._load, config.allow_version_labels_for_unavailable_models)
        for listener in (self.metrics, scheduler, HealthFollower(self._health, self.manager)):
            self.manager.subscribe(listener)
        self.poller = RepositoryPoller(
            self.manager,
            config.file_system_poll_wait_seconds,
            config.model_config_file,
            config.model_config_file_poll_wait_seconds,
        )
        self.core = DataPlane(
            self.manager,
            scheduler,
            self.metrics,
            Limits(
                config.max_rows_per_request,
                config.saved_model_tags,
                config.max_concurrent_requests,
            ),
        )
        await self._start_grpc()
        if config.rest_api_port:
            await self._start_rest()
        for name in ("", *(m.name for m in self._models.model_config_list.config)):
            await self._health.set(name, NOT_SERVING)
        self._loading = asyncio.get_running_loop().run_in_executor(
            None, self.poller.start, self._models
        )

    async def _start_grpc(self) -> None:
        config = self.config
        options = [
            ("grpc.max_receive_message_length", config.max_request_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 0),
            *config.grpc_channel_arguments,
        ]
        # Past the limit gRPC refuses a call before reading its message: memory stays bounded.
        self._grpc = grpc.aio.server(
            options=options, maximum_concurrent_rpcs=config.max_concurrent_requests or None
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.core, config.max_request_bytes), self._grpc
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServicer(self.core, self.poller, self._admin_token), self._grpc
        )
        inspection_pb2_grpc.add_ModelInspectionServiceServicer_to_server(
            InspectionServicer(self.core), self._grpc
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._grpc)
        reflection.enable_server_reflection(
            (
                *SERVICES,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            self._grpc,
        )
        for service in SERVICES:  # they answer as soon as the port is open
            await self._health.set(service, SERVING)
        address = f"{config.bind_address}:{config.port}"
        try:
            if self._grpc_credentials is None:
                self.grpc_port = self._grpc.add_insecure_port(address)
            else:
                self.grpc_port = self._grpc.add_secure_port(address, self._grpc_credentials)
        except RuntimeError:  # grpcio raises where older versions returned 0
            self.grpc_port = 0
        if not self.grpc_port:
            raise ConfigError(f"cannot listen for gRPC on {address}")
        await self._grpc.start()

    async def _start_rest(self) -> None:
        config = self.config
        self.rest = RestApi(
            self.core,
            self.metrics,
            config.max_request_bytes,
            config.rest_api_timeout_in_ms / 1000,
            self._metrics_paths,
        )
        # By cleanup the grace period has been spent waiting for requests in flight: what
        # remains gets a second to finish writing its response (aiohttp's default is 60).
        self._runner = web.AppRunner(self.rest.application(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, config.bind_address, config.rest_api_port, ssl_context=self._rest_ssl
        )
        try:
            await site.start()
        except OSError as e:
            await self._grpc.stop(None)  # started already; left running it dies noisily at exit
            raise ConfigError(
                f"cannot listen for REST on {config.bind_address}:{config.rest_api_port}: "
                f"{e.strerror}"
            ) from None
        self.rest_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Drain: readiness false, new requests refused, in-flight ones finish, then close."""
        grace = self.config.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        if self.config.rest_api_port:
            self.rest.draining = True
        self.core.drain()
        await self._health.enter_graceful_shutdown()
        while self.core.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await self._grpc.stop(max(0.0, deadline - time.monotonic()))
        if self.config.rest_api_port:
            await self._runner.cleanup()
        self.poller.stop()
        await self._loading
        await asyncio.get_running_loop().run_in_executor(None, self.manager.shutdown)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.calls_left_running = not _joined(self._executor, max(0.1, deadline - time.monotonic()))


def _joined(executor: ThreadPoolExecutor, timeout: float) -> bool:
    """Whether a shut-down executor's threads end within `timeout`. A TensorFlow call cannot
    be interrupted, so one that outlasts the grace period is left running."""
    joiner = threading.Thread(target=executor.shutdown, name="join-inference", daemon=True)
    joiner.start()
    joiner.join(timeout)
    return not joiner.is_alive()

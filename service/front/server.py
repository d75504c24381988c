"""The assembled server: repository, data plane, gRPC and REST, started and stopped together."""

import asyncio
import logging
import ssl
import time
from pathlib import Path

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from service.front.config import ConfigError, ServerConfig, read_text_proto
from service.front.console import console_routes
from service.front.dataplane import DataPlane, Limits
from service.front.grpc.forwarding import add_service, forwarding
from service.front.grpc.inference import InferenceServicer
from service.front.grpc.inspection import InspectionServicer
from service.front.grpc.model_service import ModelServicer
from service.front.grpc.prediction import PredictionServicer
from service.front.grpc.profiler import SERVICE as PROFILER_SERVICE
from service.front.grpc.profiler import ProfilerForwarder, reserve_port
from service.front.health import NOT_SERVING, SERVING, HealthFollower
from service.front.metrics import Metrics
from service.front.repository.manager import LoadPolicy, ModelManager
from service.front.repository.poller import RepositoryPoller
from service.front.rest.app import RestApi
from service.front.rest.cors import cors
from service.front.rest.insight import InsightRoutes
from service.front.rest.v2 import V2Rest
from service.front.v2.repository import ModelRepository
from service.front.work_limits import GrpcTurns, rest_turns
from service.front.workers.crashes import Named, RequestCrashes
from service.front.workers.loaded import LoadedVersion
from service.front.workers.pool import WorkerPool
from service.front.workers.process import WorkerSettings
from service.front.workers.routes import RoutePublisher
from service.insight.refresh import refresh_forever
from service.insight.settings import InsightSettings
from service.protos.blockserve.v1 import inspection_pb2, inspection_pb2_grpc, server_config_pb2
from service.protos.inference import grpc_service_pb2, grpc_service_pb2_grpc
from service.protos.tensorflow_serving.apis import (
    model_service_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)
from service.protos.tensorflow_serving.config import model_server_config_pb2
from service.requestlog.logger import RequestLogger
from service.shared import channel
from service.shared.batching import read_batching_parameters
from service.shared.errors import ServingError
from service.shared.options import RuntimeOptions
from service.shared.settings import ServingSettings

log = logging.getLogger(__name__)

SERVICES = (
    prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name,
    model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    inspection_pb2.DESCRIPTOR.services_by_name["ModelInspectionService"].full_name,
    grpc_service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name,
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
    """TLS, and mutual TLS with client_verify, from --ssl_config_file; or ALTS."""
    if config.use_alts_credentials:
        return grpc.alts_server_credentials()
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
        # TensorFlow's profiler runs in the workers; the gRPC port forwards to it.
        self._profiler_hold = reserve_port() if config.enable_profiler else None
        self._profiler_port = self._profiler_hold.getsockname()[1] if self._profiler_hold else 0
        self._batching = read_batching_parameters(config.batching_parameters_file)
        self.metrics = Metrics(config.max_parameter_series)
        self.pool = WorkerPool(
            config.num_workers,
            WorkerSettings(
                config.tensorflow_intra_op_parallelism, config.tensorflow_inter_op_parallelism
            ),
            RuntimeOptions(
                saved_model_tags=config.saved_model_tags,
                enable_model_warmup=config.enable_model_warmup,
                session_config=config.session_config,
                xla_cpu_compilation_enabled=config.xla_cpu_compilation_enabled,
                mixed_precision=config.mixed_precision,
                num_request_iterations_for_warmup=config.num_request_iterations_for_warmup,
                prefer_tflite_model=config.prefer_tflite_model,
                num_tflite_pools=config.num_tflite_pools,
                num_tflite_interpreters_per_pool=config.num_tflite_interpreters_per_pool,
                profiler_port=self._profiler_port,
            ),
            self.metrics,
            ServingSettings(
                max_request_bytes=config.max_request_bytes,
                max_rows_per_request=config.max_rows_per_request,
                tensor_content=config.enable_serialization_as_tensor_content,
                exact_batching=config.enable_exact_batching,
                merge_rows=config.enable_batching,
                batching=self._batching,
                per_model_batching=config.enable_per_model_batching_parameters,
                load_threads=config.num_load_threads,
                insight=InsightSettings(
                    config.activation_sample_rate, config.activation_max_samples_per_second
                ),
            ),
            config.large_request_bytes,
        )
        self.grpc_port = 0
        self.rest_port = 0
        self.draining = False

    def _load(self, name: str, version: int, path: Path) -> LoadedVersion:
        """On the repository's thread: load a version in every worker."""
        loading = asyncio.run_coroutine_threadsafe(self.pool.load(name, version, path), self._loop)
        return LoadedVersion(self.pool, loading.result(), path, self._loop)

    def _served_version(self, named: Named) -> int | None:
        """The version a request's model spec names now (latest, label), or None."""
        try:
            with self.manager.lease(*named).lease() as model:
                return model.version
        except ServingError:
            return None

    async def start(self) -> None:
        """Open both ports, then start the workers and load the models in the background."""
        config = self.config
        self._loop = asyncio.get_running_loop()
        self._health = health_aio.HealthServicer()
        self.manager = ModelManager(
            self._load,
            config.allow_version_labels_for_unavailable_models,
            LoadPolicy(
                config.num_load_threads,
                config.num_unload_threads,
                config.max_num_load_retries,
                config.load_retry_interval_micros / 1e6,
            ),
        )
        self.request_log = RequestLogger(
            self.manager.model_configs,
            self.metrics,
            config.saved_model_tags,
            config.request_log_max_file_bytes,
        )
        for listener in (
            self.metrics,
            RoutePublisher(self.pool, self.manager.model_configs, self._loop),
            HealthFollower(self._health, self.manager),
            self.request_log,
        ):
            self.manager.subscribe(listener)
        self.pool.crashes = RequestCrashes(
            lambda model, version: self.metrics.request_crashes.labels(model, version).inc(),
            self._served_version,
            self.manager.note_serving_problem,
        )
        self.poller = RepositoryPoller(
            self.manager,
            config.file_system_poll_wait_seconds,
            config.model_config_file,
            config.model_config_file_poll_wait_seconds,
        )
        self.core = DataPlane(
            self.manager,
            self.pool,
            self.metrics,
            Limits(
                config.max_rows_per_request,
                config.saved_model_tags,
                config.max_concurrent_requests,
                config.enable_signature_method_name_check,
            ),
            config.max_queued_requests,
        )
        self.repository = ModelRepository(
            self.manager, self.poller, self._models, self._admin_token
        )
        await self._start_grpc()
        if config.rest_api_port:
            await self._start_rest()
        for name in ("", *(m.name for m in self._models.model_config_list.config)):
            await self._health.set(name, NOT_SERVING)
        # Configured now, so that readiness waits for the models while the workers start.
        self.manager.configure(self._models)
        self._loading = asyncio.create_task(self._start_serving())
        self._insight_metrics = asyncio.create_task(
            refresh_forever(self.pool.versions, self.pool.insight, self.metrics.insight)
        )

    async def _start_serving(self) -> None:
        try:
            await self.pool.start()
        except Exception:
            log.exception("the TensorFlow workers did not start; no model can load")
            return
        await self._loop.run_in_executor(None, self.poller.start, self._models)

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
            options=options,
            maximum_concurrent_rpcs=config.max_concurrent_requests or None,
            interceptors=[GrpcTurns(config.grpc_max_threads)] if config.grpc_max_threads else [],
        )
        self._profiler = ProfilerForwarder(self._profiler_port) if self._profiler_port else None
        if self._profiler is not None:
            self._grpc.add_generic_rpc_handlers([self._profiler.handler()])
        add_service(
            self._grpc,
            prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server,
            PredictionServicer(
                self.core,
                config.max_request_bytes,
                config.enable_serialization_as_tensor_content,
                self.request_log,
            ),
            {"Predict": forwarding(self.core, channel.PREDICT, "predict", self.request_log)},
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServicer(self.core, self.poller, self._admin_token), self._grpc
        )
        inspection_pb2_grpc.add_ModelInspectionServiceServicer_to_server(
            InspectionServicer(self.core, self.core.insight), self._grpc
        )
        add_service(
            self._grpc,
            grpc_service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server,
            InferenceServicer(self.core, self.repository, lambda: self.draining),
            {"ModelInfer": forwarding(self.core, channel.MODEL_INFER, "model_infer", None)},
        )
        health = ()
        if config.enable_grpc_healthcheck_service:
            health_pb2_grpc.add_HealthServicer_to_server(self._health, self._grpc)
            health = (health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,)
        # The profiler's service is listed by name; its messages stay TensorFlow's (the front
        # forwards them unparsed), so a client describes it from TensorFlow's own protos.
        profiler = (PROFILER_SERVICE,) if self._profiler is not None else ()
        reflection.enable_server_reflection(
            (*SERVICES, *health, *profiler, reflection.SERVICE_NAME), self._grpc
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
        if config.grpc_socket_path:
            socket_address = f"unix:{config.grpc_socket_path}"
            try:
                if self._grpc_credentials is None:
                    bound = self._grpc.add_insecure_port(socket_address)
                else:
                    bound = self._grpc.add_secure_port(socket_address, self._grpc_credentials)
            except RuntimeError:
                bound = 0
            if not bound:
                raise ConfigError(f"cannot listen for gRPC on {socket_address}")
        await self._grpc.start()

    async def _start_rest(self) -> None:
        config = self.config
        self.rest = RestApi(
            self.core,
            self.metrics,
            config.max_request_bytes,
            config.rest_api_timeout_in_ms / 1000,
            self._metrics_paths,
            V2Rest(
                self.core,
                self.repository,
                config.max_request_bytes,
                config.rest_api_timeout_in_ms / 1000,
                lambda: self.draining,
            ).routes()
            + console_routes(self._admin_token),
            self.manager.model_names,
            self.request_log,
            InsightRoutes(self.core.insight, self.core.call).routes(),
        )
        # By cleanup the grace period has been spent waiting for requests in flight: what
        # remains gets a second to finish writing its response (aiohttp's default is 60).
        app = self.rest.application()
        if config.rest_api_num_threads:
            app.middlewares.append(rest_turns(config.rest_api_num_threads))
        if config.rest_api_enable_cors_support:
            app.middlewares.append(cors)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
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
        self.draining = True
        await self._health.enter_graceful_shutdown()
        while self.core.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await self._grpc.stop(max(0.0, deadline - time.monotonic()))
        self._insight_metrics.cancel()
        if self._profiler is not None:
            await self._profiler.close()
        if self._profiler_hold is not None:
            self._profiler_hold.close()
        if self.config.rest_api_port:
            await self._runner.cleanup()
        self.manager.stop_loading()
        self.poller.stop()
        await self._loading
        await self._loop.run_in_executor(None, self.request_log.stop)  # writes what is queued
        # A TensorFlow call cannot be interrupted: a worker still in one past the grace period
        # is killed. Then the repository lets its versions go; the workers hold none any more.
        await self.pool.stop(max(0.1, deadline - time.monotonic()))
        await self._loop.run_in_executor(None, self.manager.shutdown)

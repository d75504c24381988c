"""inference.GRPCInferenceService, the Open Inference Protocol (V2), over the data plane."""

import asyncio
from collections.abc import Callable

import grpc

from service.front.dataplane import DataPlane, Tally
from service.front.grpc.status import answer
from service.front.metrics import ALL_MODELS
from service.front.v2 import calls
from service.front.v2.metadata import server_metadata
from service.front.v2.repository import ModelRepository, load_base_path
from service.protos.inference import grpc_service_pb2 as pb
from service.protos.inference import grpc_service_pb2_grpc
from service.shared.codecs import v2_grpc as messages
from service.shared.codecs.v2_request import model_query
from service.shared.errors import InvalidArgument, NotFound


class InferenceServicer(grpc_service_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(
        self, core: DataPlane, repository: ModelRepository, draining: Callable[[], bool]
    ) -> None:
        self._core = core
        self._repository = repository
        self._draining = draining

    async def ServerLive(self, request, context: grpc.aio.ServicerContext):
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context: grpc.aio.ServicerContext):
        ready = not self._draining() and not self._core.unready_models()
        return pb.ServerReadyResponse(ready=ready)

    async def ServerMetadata(self, request, context: grpc.aio.ServicerContext):
        return messages.from_json(pb.ServerMetadataResponse, server_metadata())

    async def ModelReady(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            query = model_query(request.name, request.version)
            try:
                ready = calls.model_ready(self._core, tally, query)
            except NotFound:  # as Triton answers: no such model is a model not ready
                ready = False
            return pb.ModelReadyResponse(ready=ready)

        return await answer(context, self._core, "model_ready", work)

    async def ModelMetadata(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            query = model_query(request.name, request.version)
            return messages.from_json(
                pb.ModelMetadataResponse, calls.describe(self._core, tally, query)
            )

        return await answer(context, self._core, "model_metadata", work)

    async def RepositoryIndex(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            tally.model = ALL_MODELS
            _one_repository(request.repository_name)
            response = pb.RepositoryIndexResponse()
            for entry in self._repository.index(request.ready):
                response.models.add(
                    name=entry.name, version=entry.version, state=entry.state, reason=entry.reason
                )
            return response

        return await answer(context, self._core, "repository_index", work)

    async def RepositoryModelLoad(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            self._authorize(context, "RepositoryModelLoad")
            _one_repository(request.repository_name)
            parameters = {
                key: getattr(value, value.WhichOneof("parameter_choice") or "string_param")
                for key, value in request.parameters.items()
            }
            base_path = load_base_path(parameters)
            await asyncio.get_running_loop().run_in_executor(
                None, self._repository.load, request.model_name, base_path
            )
            tally.model = request.model_name  # a served name now: bounded
            return pb.RepositoryModelLoadResponse()

        return await answer(context, self._core, "repository_model_load", work)

    async def RepositoryModelUnload(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            self._authorize(context, "RepositoryModelUnload")
            _one_repository(request.repository_name)
            await asyncio.get_running_loop().run_in_executor(
                None, self._repository.unload, request.model_name
            )
            tally.model = request.model_name
            return pb.RepositoryModelUnloadResponse()

        return await answer(context, self._core, "repository_model_unload", work)

    def _authorize(self, context: grpc.aio.ServicerContext, call: str) -> None:
        given = dict(context.invocation_metadata() or ()).get("authorization", "")
        self._repository.authorize(given, call)


def _one_repository(name: str) -> None:
    if name:
        raise InvalidArgument(f"this server has one repository, named ''; not {name[:100]!r}")

"""tensorflow.serving.ModelService: version status and config reloads."""

import asyncio
import hmac

import grpc

from service.front.dataplane import DataPlane, Tally
from service.front.grpc.status import answer
from service.front.repository.poller import RepositoryPoller
from service.protos.tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc
from service.shared.codecs import tfserving as convert
from service.shared.errors import InvalidArgument, Unauthenticated


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, core: DataPlane, poller: RepositoryPoller, admin_token: str) -> None:
        self._core = core
        self._poller = poller
        self._admin_token = admin_token

    async def GetModelStatus(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            query = convert.query(request.model_spec)
            if query.label is not None:
                raise InvalidArgument("GetModelStatus takes a version, not a version label")
            if not query.name:
                raise InvalidArgument("the model spec has no model name")
            return convert.status_response(self._core.status(tally, query.name, query.version))

        return await answer(context, self._core, "get_model_status", work)

    async def HandleReloadConfigRequest(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            self._authorize(context)
            await asyncio.get_running_loop().run_in_executor(
                None, self._poller.reload, request.config
            )
            return model_management_pb2.ReloadConfigResponse()

        return await answer(context, self._core, "reload_config", work)

    def _authorize(self, context: grpc.aio.ServicerContext) -> None:
        if not self._admin_token:
            return
        given = dict(context.invocation_metadata() or ()).get("authorization", "")
        expected = f"Bearer {self._admin_token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthenticated("HandleReloadConfigRequest needs `authorization: Bearer TOKEN`")

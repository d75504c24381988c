"""blockserve.v1.ModelInspectionService: parameter summaries and comparisons, activation
summaries and input drift."""

import grpc

from service.front.dataplane import DataPlane, Tally
from service.front.grpc.status import answer
from service.insight.fetch import ACTIVATIONS, DRIFT, Fetch
from service.protos.blockserve.v1 import inspection_pb2_grpc
from service.shared.codecs import tfserving as messages
from service.shared.errors import Unimplemented


class InspectionServicer(inspection_pb2_grpc.ModelInspectionServiceServicer):
    def __init__(self, core: DataPlane, insight: Fetch | None = None) -> None:
        self._core = core
        self._insight = insight

    async def GetParameterSummary(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            return self._core.parameter_summary(tally, messages.query(request.model_spec))

        return await answer(context, self._core, "get_parameter_summary", work)

    async def CompareParameters(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            return await self._core.compare_parameters(
                tally, messages.query(request.model_spec), request.base_version
            )

        return await answer(context, self._core, "compare_parameters", work)

    async def GetActivationSummary(self, request, context: grpc.aio.ServicerContext):
        return await self._fetch(ACTIVATIONS, "get_activation_summary", request, context)

    async def GetInputDrift(self, request, context: grpc.aio.ServicerContext):
        return await self._fetch(DRIFT, "get_input_drift", request, context)

    async def _fetch(self, kind: str, method: str, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            if self._insight is None:
                raise Unimplemented("live insight is not served by this server")
            query = messages.query(request.model_spec)
            return await self._insight(kind, query.name, query.version, query.label)

        return await answer(context, self._core, method, work)

"""blockserve.v1.ModelInspectionService: parameter summaries and comparisons."""

import grpc

from service import messages
from service.core.dataplane import DataPlane, Tally
from service.grpc.status import answer
from service.protos.blockserve.v1 import inspection_pb2_grpc


class InspectionServicer(inspection_pb2_grpc.ModelInspectionServiceServicer):
    def __init__(self, core: DataPlane) -> None:
        self._core = core

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

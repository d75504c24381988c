"""tensorflow.serving.PredictionService over the data plane; Predict itself crosses the front
as bytes (service.front.grpc.forwarding)."""

import grpc

from service.front.dataplane import DataPlane, Tally
from service.front.grpc.status import answer, deadline
from service.protos.tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from service.requestlog.logger import RequestLogger
from service.shared.codecs import tfserving as convert
from service.shared.codecs.examples import serialized_examples
from service.shared.errors import InvalidArgument
from service.shared.signature import CLASSIFY, REGRESS


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(
        self,
        core: DataPlane,
        max_request_bytes: int,
        tensor_content: bool,
        request_log: RequestLogger,
    ) -> None:
        self._core = core
        self._max_bytes = max_request_bytes
        self._tensor_content = tensor_content
        self._log = request_log

    async def Classify(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            result = await self._core.classify(
                tally,
                convert.query(request.model_spec),
                serialized_examples(request.input),
                deadline(context),
            )
            response = classification_pb2.ClassificationResponse(
                result=convert.classification_result(result)
            )
            convert.fill_spec(response.model_spec, result.served)
            if self._log.enabled:
                self._log.classify(request, response)
            return response

        return await answer(context, self._core, "classify", work)

    async def Regress(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            result = await self._core.regress(
                tally,
                convert.query(request.model_spec),
                serialized_examples(request.input),
                deadline(context),
            )
            response = regression_pb2.RegressionResponse(result=convert.regression_result(result))
            convert.fill_spec(response.model_spec, result.served)
            if self._log.enabled:
                self._log.regress(request, response)
            return response

        return await answer(context, self._core, "regress", work)

    async def MultiInference(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            if not request.tasks:
                raise InvalidArgument("MultiInference needs at least one task")
            names = {t.model_spec.name for t in request.tasks}
            if len(names) != 1:
                raise InvalidArgument(f"all tasks must name one model; got {sorted(names)}")
            signatures = [t.model_spec.signature_name for t in request.tasks]
            if len(set(signatures)) != len(signatures):
                raise InvalidArgument("two tasks use the same signature")
            examples = serialized_examples(request.input)
            until = deadline(context)
            response = inference_pb2.MultiInferenceResponse()
            for task in request.tasks:
                out = response.results.add()
                query = convert.query(task.model_spec)
                if task.method_name == CLASSIFY:
                    result = await self._core.classify(tally, query, examples, until)
                    out.classification_result.CopyFrom(convert.classification_result(result))
                elif task.method_name == REGRESS:
                    result = await self._core.regress(tally, query, examples, until)
                    out.regression_result.CopyFrom(convert.regression_result(result))
                else:
                    raise InvalidArgument(
                        f"task method {task.method_name!r} is not supported; "
                        f"use {CLASSIFY!r} or {REGRESS!r}"
                    )
                convert.fill_spec(out.model_spec, result.served)
            if self._log.enabled:
                self._log.multi_inference(request, response)
            return response

        return await answer(context, self._core, "multi_inference", work)

    async def GetModelMetadata(self, request, context: grpc.aio.ServicerContext):
        async def work(tally: Tally):
            fields = list(request.metadata_field)
            if not fields:
                raise InvalidArgument("metadata_field is empty; ask for 'signature_def'")
            unknown = sorted(set(fields) - {convert.SIGNATURE_DEF})
            if unknown:
                raise InvalidArgument(
                    f"metadata field {unknown} is not supported; the only one is "
                    f"{convert.SIGNATURE_DEF!r}"
                )
            metadata = self._core.metadata(tally, convert.query(request.model_spec))
            return convert.metadata_response(metadata)

        return await answer(context, self._core, "get_model_metadata", work)

"""The V2 calls over the data plane, one implementation behind both adapters."""

from typing import Any

from service.front.dataplane import DataPlane, Tally
from service.front.v2.metadata import model_metadata
from service.protos.tensorflow_serving.apis import get_model_status_pb2
from service.shared.codecs.v2_request import InferRequest
from service.shared.errors import NotFound, Unavailable
from service.shared.types import ModelQuery, Prediction

AVAILABLE = get_model_status_pb2.ModelVersionStatus.State.AVAILABLE


def model_ready(core: DataPlane, tally: Tally, query: ModelQuery) -> bool:
    """Whether the model (version) can serve now; NotFound if the server has no such model
    or version at all."""
    try:
        core.lease(tally, query).release()
        return True
    except (NotFound, Unavailable):
        core.status(tally, query.name, query.version)  # NotFound: no such model or version
        return False


def describe(core: DataPlane, tally: Tally, query: ModelQuery) -> dict[str, Any]:
    """The model's V2 metadata, for the version the query resolves to."""
    metadata = core.metadata(tally, query)
    statuses = core.status(tally, query.name, None)
    tally.version = str(metadata.served.version)
    versions = [s.version for s in statuses if s.state == AVAILABLE]
    return model_metadata(metadata, versions, query.signature)


async def infer(
    core: DataPlane, tally: Tally, request: InferRequest, deadline: float | None
) -> Prediction:
    return await core.predict(tally, request.query, request.inputs, request.outputs, deadline)

"""A Seldon MLServer runtime for one SavedModel: what an MLServer user writes to serve `mlp`.

Loaded by MLServer in the MLServer peer's own venv (`benchmarks.peers.venvs`), never the
project's: model-settings.json names `mlserver_runtime.SavedModelRuntime` as its implementation
and `parameters.uri` as the SavedModel version folder. `tf.saved_model.load`, then one call of
the serving_default signature per (possibly adaptively batched) request, inputs and outputs
converted with MLServer's NumpyCodec.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class SavedModelRuntime(MLModel):
    """Serves the serving_default signature of the SavedModel at `parameters.uri`."""

    async def load(self) -> bool:
        uri = self.settings.parameters.uri
        self._signature = tf.saved_model.load(uri).signatures["serving_default"]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        inputs = {i.name: tf.constant(NumpyCodec.decode_input(i)) for i in payload.inputs}
        outputs = self._signature(**inputs)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[NumpyCodec.encode_output(name, t.numpy()) for name, t in outputs.items()],
        )

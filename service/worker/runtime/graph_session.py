"""A TF1 SavedModel (no object graph: written by TF1's builder) loaded as TensorFlow Serving
loads it: into a Graph of its own and a Session, its signatures called through the Session.

`tf.saved_model.load` rebuilds such graphs as TF2 functions and cannot rebuild all of them
(ParseExample with dense shapes fails with "Shapes must be equal rank"); the TF1 loader runs the
graph as it was written. A call feeds the signature's tensors by name through a Session
callable, which holds no request to the placeholder's declared shape: as in TensorFlow Serving
the graph decides, so `x` of shape [3] answers where [-1, 1] was declared.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2

from service.protos.tensorflow.core.protobuf import meta_graph_pb2
from service.shared.signature import Signature

SessionCall = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def has_object_graph(meta_graph: meta_graph_pb2.MetaGraphDef) -> bool:
    """Whether a MetaGraphDef was written by TF2 (`tf.saved_model.save`), which records the
    Python objects; TF1's builder never does."""
    return meta_graph.HasField("object_graph_def")


class GraphSession:
    """One TF1 SavedModel's Graph and Session, and a call per signature."""

    def __init__(
        self,
        path: Path,
        tags: frozenset[str],
        signatures: dict[str, Signature],
        config: tf.compat.v1.ConfigProto,
    ) -> None:
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph, config=config)
        with self._graph.as_default():
            tf.compat.v1.saved_model.loader.load(self._session, sorted(tags), str(path))
        self.calls: dict[str, SessionCall] = {
            name: self._callable(signature) for name, signature in signatures.items()
        }

    @property
    def graph(self) -> tf.Graph:
        """The loaded graph (live insight reads its layers)."""
        return self._graph

    @property
    def session(self) -> tf.compat.v1.Session:
        """The Session the calls run in (live insight makes callables of its own in it)."""
        return self._session

    def _callable(self, signature: Signature) -> SessionCall:
        feeds = sorted(signature.inputs)
        fetches = sorted(signature.outputs)
        inputs = signature.definition.inputs
        outputs = signature.definition.outputs
        options = config_pb2.CallableOptions(
            feed=[inputs[k].name for k in feeds], fetch=[outputs[k].name for k in fetches]
        )
        run = self._session._make_callable_from_options(options)  # no shape checks: see above

        def call(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return dict(zip(fetches, run(*[values[k] for k in feeds]), strict=True))

        return call

    def close(self) -> None:
        self.calls.clear()
        self._session.close()

"""What a SavedModel's signatures take and give, read from its SignatureDefs."""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from service.protos.tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from service.shared.codecs.tensors import numpy_dtype

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"
DEFAULT_SIGNATURE = "serving_default"
INIT_OP = "__saved_model_init_op"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: its dtype and shape (None for unknown rank, -1 for unknown sizes)."""

    name: str
    dtype_enum: int
    dtype: np.dtype | None
    shape: tuple[int, ...] | None

    def describe(self) -> str:
        dtype = self.dtype.name if self.dtype is not None and self.dtype != object else "string"
        shape = "unknown rank" if self.shape is None else str(list(self.shape))
        return f"{dtype} {shape}"


@dataclass(frozen=True)
class Signature:
    """A named entry point of a model version."""

    name: str
    method_name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    definition: meta_graph_pb2.SignatureDef


def _spec(name: str, info: meta_graph_pb2.TensorInfo) -> TensorSpec:
    try:
        dtype: np.dtype | None = numpy_dtype(info.dtype)
    except Exception:  # an exotic dtype: served through TensorFlow's own conversion
        dtype = None
    shape = None if info.tensor_shape.unknown_rank else tuple(d.size for d in info.tensor_shape.dim)
    return TensorSpec(name, info.dtype, dtype, shape)


def read_meta_graph(saved_model_pb: bytes, tags: frozenset[str]) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef whose tag set is `tags`."""
    model = saved_model_pb2.SavedModel.FromString(saved_model_pb)
    for graph in model.meta_graphs:
        if frozenset(graph.meta_info_def.tags) == tags:
            return graph
    found = [sorted(g.meta_info_def.tags) for g in model.meta_graphs]
    raise ValueError(f"no MetaGraph with tags {sorted(tags)}; the SavedModel has {found}")


def read_signatures(definitions: Mapping[str, meta_graph_pb2.SignatureDef]) -> dict[str, Signature]:
    """Every servable signature among a MetaGraph's SignatureDefs, by name."""
    return {
        name: Signature(
            name,
            sig.method_name,
            {k: _spec(k, v) for k, v in sorted(sig.inputs.items())},
            {k: _spec(k, v) for k, v in sorted(sig.outputs.items())},
            sig,
        )
        for name, sig in sorted(definitions.items())
        if name != INIT_OP
    }

"""The files of a SavedModel that inspection reads: one meta graph, and the variables checkpoint.

Both are read as data (protobuf messages and checkpoint tensors); nothing is loaded into a
TensorFlow runtime, so this works for any SavedModel, whichever TensorFlow version wrote it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from google.protobuf import message, text_format

from service.protos.tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
CHECKPOINT_PREFIX = Path("variables") / "variables"


class InspectionError(Exception):
    """A SavedModel that cannot be inspected; the message names the folder and the reason."""


@dataclass(frozen=True)
class Checkpoint:
    """A SavedModel's variables checkpoint: which tensors it holds, and reading one of them."""

    reader: Any  # TensorFlow's CheckpointReader, a pybind class with no public type
    shapes: Mapping[str, tuple[int, ...]]
    dtypes: Mapping[str, tf.dtypes.DType]

    def read(self, key: str) -> np.ndarray:
        return np.asarray(self.reader.get_tensor(key))


def read_meta_graph(saved_model_dir: Path, tags: Iterable[str]) -> meta_graph_pb2.MetaGraphDef:
    """The meta graph whose tag set is exactly `tags`, as TensorFlow Serving selects it."""
    saved_model = _read_saved_model(saved_model_dir)
    wanted = set(tags)
    for meta_graph in saved_model.meta_graphs:
        if set(meta_graph.meta_info_def.tags) == wanted:
            return meta_graph
    available = "; ".join(
        ",".join(sorted(m.meta_info_def.tags)) or "(no tags)" for m in saved_model.meta_graphs
    )
    raise InspectionError(
        f"{saved_model_dir} has no meta graph tagged {','.join(sorted(wanted))}; "
        f"its tag sets: {available or 'none'}"
    )


def open_checkpoint(saved_model_dir: Path) -> Checkpoint | None:
    """The SavedModel's variables, or None for a SavedModel that has none."""
    prefix = saved_model_dir / CHECKPOINT_PREFIX
    if not prefix.with_name(prefix.name + ".index").is_file():
        return None
    try:
        reader = tf.train.load_checkpoint(str(prefix))
    except (tf.errors.OpError, ValueError) as e:
        raise InspectionError(f"cannot read the checkpoint {prefix}: {e}") from e
    shapes = {key: tuple(shape) for key, shape in reader.get_variable_to_shape_map().items()}
    return Checkpoint(reader, shapes, reader.get_variable_to_dtype_map())


def _read_saved_model(saved_model_dir: Path) -> saved_model_pb2.SavedModel:
    saved_model = saved_model_pb2.SavedModel()
    for file_name in SAVED_MODEL_FILES:
        path = saved_model_dir / file_name
        if not path.is_file():
            continue
        try:
            if path.suffix == ".pb":
                saved_model.ParseFromString(path.read_bytes())
            else:
                text_format.Parse(path.read_text(), saved_model)
        except OSError as e:
            raise InspectionError(f"cannot read {path}: {e.strerror}") from e
        except (message.DecodeError, text_format.ParseError) as e:
            raise InspectionError(f"{path} is not a SavedModel: {e}") from e
        return saved_model
    raise InspectionError(f"{saved_model_dir} holds no {' or '.join(SAVED_MODEL_FILES)}")


def holds_numbers(dtype: tf.dtypes.DType) -> bool:
    """Whether a tensor of `dtype` can be a parameter: real numbers, floating or integer.

    Strings, booleans, resources and quantized types are state or plumbing, not weights.
    """
    return dtype.is_floating or (dtype.is_integer and not dtype.is_quantized)

"""One loaded SavedModel version: TF2 ones called as functions, TF1 ones in a Session."""

import gc
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from service.inspection import InspectionError, ParameterSet, find_parameters, summarize
from service.protos.blockserve.v1 import inspection_pb2
from service.shared.errors import CANONICAL_CODES, InvalidArgument, ModelError
from service.shared.facts import ExportFacts, read_facts
from service.shared.options import RuntimeOptions
from service.shared.signature import (
    Signature,
    read_meta_graph,
    read_signatures,
)
from service.worker.runtime.call import signature_call
from service.worker.runtime.graph_session import GraphSession, has_object_graph
from service.worker.runtime.session_config import apply_graph_options, session_config
from service.worker.runtime.warmup import WARMUP_FILE, warm_up

log = logging.getLogger(__name__)

__all__ = ["WARMUP_FILE", "ModelVersion"]


class ModelVersion:
    """A SavedModel version in memory, ready to run its signatures.

    TF2 SavedModels are loaded with `tf.saved_model.load` and called as functions; TF1 ones
    (no object graph) run in a Session of their own, as TensorFlow Serving runs them.
    """

    platform = "tensorflow"
    """What ModelServerConfig's model_platform and V2's metadata call this format."""

    def __init__(
        self,
        name: str,
        version: int,
        path: Path,
        tags: frozenset[str],
        options: RuntimeOptions | None = None,
    ) -> None:
        started = time.perf_counter()
        options = options or RuntimeOptions(saved_model_tags=tags)
        self.name = name
        self.version = version
        self.path = path
        graph = read_meta_graph((path / "saved_model.pb").read_bytes(), tags)
        self.signatures: dict[str, Signature] = read_signatures(graph.signature_def)
        self.facts: ExportFacts = read_facts(path)
        self._warmup_iterations = max(1, options.num_request_iterations_for_warmup)
        self._calls: dict[str, Callable[[dict[str, np.ndarray]], dict[str, Any]]]
        if has_object_graph(graph):
            apply_graph_options(options)
            self._loaded: Any = tf.saved_model.load(str(path), tags=sorted(tags))
            self._calls = {
                name: signature_call(self._loaded.signatures[name]) for name in self.signatures
            }
        else:
            self._loaded = GraphSession(path, tags, self.signatures, session_config(options))
            self._calls = dict(self._loaded.calls)
        self.parameters: ParameterSet | None = None
        self.summary: inspection_pb2.ParameterSummary | None = None
        self.summary_problem = ""
        try:
            self.parameters = find_parameters(path, tags)
            self.summary = summarize(path, name, version, tags)
        except InspectionError as e:  # the model still serves; only its summary is missing
            self.summary_problem = str(e)
            log.warning("no parameter summary for %s version %d: %s", name, version, e)
        self.load_seconds = time.perf_counter() - started

    @property
    def function_signatures(self) -> Any | None:
        """A TF2 SavedModel's loaded signature functions (`.signatures`); None for TF1."""
        return None if isinstance(self._loaded, GraphSession) else self._loaded

    @property
    def signature_calls(self) -> dict[str, Callable[[dict[str, np.ndarray]], dict[str, Any]]]:
        """Each signature's direct call, named inputs to output tensors."""
        return self._calls

    def run(
        self, signature: str, inputs: dict[str, np.ndarray], outputs: tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        """Call a signature; `outputs` names what to return (all of them when empty)."""
        call = self._calls[signature]
        expected = self.signatures[signature].inputs
        if inputs.keys() != expected.keys():
            raise InvalidArgument(
                f"{self.name} signature {signature} takes inputs {sorted(expected)}, "
                f"got {sorted(inputs)}"
            )
        try:
            result = call(inputs)
        except tf.errors.OpError as e:
            raise ModelError(CANONICAL_CODES[e.error_code], _first_line(e.message)) from None
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"{self.name} signature {signature}: {e}") from None
        wanted = outputs or tuple(result)
        return {k: _array(result[k]) for k in wanted}

    def warm_up(self) -> None:
        """Make the first requests fast (see service.worker.runtime.warmup)."""
        warm_up(self, self._warmup_iterations)

    def close(self) -> None:
        """Drop the TensorFlow objects so their memory can be returned."""
        self._calls.clear()
        if isinstance(self._loaded, GraphSession):
            self._loaded.close()
        self._loaded = None
        gc.collect()


def _array(value: np.ndarray | tf.Tensor) -> np.ndarray:
    """A Session gives arrays, a function eager tensors."""
    return value if isinstance(value, np.ndarray) else value.numpy()


# What TensorFlow wraps around an op's error: a header, where the node was defined, its name.
_WRAPPING = re.compile(r"Graph execution error:|Detected at node|<stack traces unavailable>|Node: ")
_NODE_TAGS = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]$")


def _first_line(message: str) -> str:
    """The line of TensorFlow's message that says what went wrong, e.g. `indices[1] = 7 is not
    in [0, 3)`, without the header, the call stack and the node tags around it."""
    for line in message.splitlines():
        if line[:1].isspace() or _WRAPPING.match(line):
            continue
        line = _NODE_TAGS.sub("", line).strip()
        if line:
            return line
    return message.strip().split("\n")[0]

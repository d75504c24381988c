"""The block scope in which a SavedModel's functions read each variable and captured constant.

TensorFlow names every op of a traced function after the name scopes open when it was created,
and Keras opens one per block call; so the ops that read a variable record the path of the block
that uses it (`chimera_1/nest_mlp_1/net_1/dense_1/Cast/ReadVariableOp`). Keras 3's export keeps
its variables in flat lists (`variables/0`), and these names are then the SavedModel's only
record of the block hierarchy.

Turning an op name into a block path undoes two things TensorFlow adds:
- the op-wrapper scope: an op converting a variable to a tensor reads it inside its own scope
  (`.../Cast/ReadVariableOp`); that last component goes when it names an op of the function,
  starts in upper case as TensorFlow's op types do (Cast, MatMul, BiasAdd), or, under Keras
  scopes, lacks the suffix below;
- Keras 3 scopes: Keras 3 opens each block's scope twice per call (once to build, once to
  call), so TensorFlow suffixes every call scope with "_<n>" (`dense_1` for `dense`, `dense_1_2`
  for `dense_1`). When every block component of every read carries such a suffix, one suffix
  is removed from each.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.protos.tensorflow.core.framework import node_def_pb2
from service.protos.tensorflow.core.protobuf import meta_graph_pb2

_UNIQUE_SUFFIX = re.compile(r"_\d+$")
# Ops that hand a captured object on to another function, which is the one that reads it.
_CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})


@dataclass(frozen=True)
class CallSites:
    """Block scopes by object-graph node id, for the nodes saved functions capture."""

    scopes: Mapping[int, tuple[str, ...]]
    keras_scopes: bool
    """Whether names carry Keras 3's doubled scopes (see the module docstring)."""

    def block_path(self, components: Iterable[str]) -> tuple[str, ...]:
        """Scope components of an op name in the SavedModel's functions, as a block path."""
        if not self.keras_scopes:
            return tuple(components)
        return tuple(_UNIQUE_SUFFIX.sub("", c) for c in components)


@dataclass(frozen=True)
class _Read:
    node_id: int
    op: node_def_pb2.NodeDef
    function_ops: frozenset[str]


def find_call_sites(meta_graph: meta_graph_pb2.MetaGraphDef) -> CallSites:
    """Where the functions saved in `meta_graph`'s object graph read the objects they capture."""
    reads = list(_reads(meta_graph))
    keras_scopes = _scopes_entered_twice(reads)
    scopes: dict[int, tuple[str, ...]] = {}
    for read in reads:
        scope = _block_scope(read, keras_scopes)
        # A block hands its variables to the blocks and loops inside it (an LSTM's while loop
        # reads its cell's kernel too); the innermost reader is the block that owns it.
        known = scopes.get(read.node_id)
        if known is None or len(scope) > len(known):
            scopes[read.node_id] = scope
    return CallSites(scopes, keras_scopes)


def _reads(meta_graph: meta_graph_pb2.MetaGraphDef) -> Iterable[_Read]:
    library = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    saved = meta_graph.object_graph_def.concrete_functions
    for name in sorted(saved):  # the same SavedModel gives the same paths
        function, bound = library.get(name), saved[name].bound_inputs
        if function is None or not bound or len(bound) > len(function.signature.input_arg):
            continue
        # Captured objects are passed as the function's last arguments, in bound_inputs order.
        arguments = function.signature.input_arg[-len(bound) :]
        captured = {arg.name: node_id for arg, node_id in zip(arguments, bound, strict=True)}
        ops = frozenset(n.name for n in function.node_def)
        for op in function.node_def:
            if op.op in _CALL_OPS or op.op in library:
                continue
            for ref in op.input:
                node_id = captured.get(ref.split(":")[0])  # control inputs ("^x") never match
                if node_id is not None:
                    yield _Read(node_id, op, ops)


def _scopes_entered_twice(reads: list[_Read]) -> bool:
    # The last two components may be the reading op and its wrapper's scope; the rest are blocks.
    blocks = [c for read in reads for c in read.op.name.split("/")[:-2]]
    return bool(blocks) and all(_UNIQUE_SUFFIX.search(c) for c in blocks)


def _block_scope(read: _Read, keras_scopes: bool) -> tuple[str, ...]:
    parts = read.op.name.split("/")[:-1]  # without the reading op's own name
    if parts and _is_op_scope(parts, read, keras_scopes):
        parts = parts[:-1]
    if keras_scopes:
        parts = [_UNIQUE_SUFFIX.sub("", p) for p in parts]
    return tuple(parts)


def _is_op_scope(parts: list[str], read: _Read, keras_scopes: bool) -> bool:
    last = parts[-1]
    if "/".join(parts) in read.function_ops:
        return True  # the op whose wrapper opened this scope is named after it
    if keras_scopes and not _UNIQUE_SUFFIX.search(last):
        return True
    # An op that takes the object itself (a loop, a gather) is named by its wrapper's scope, so
    # what precedes it is a block; only reads happen one scope deeper.
    return read.op.op == "ReadVariableOp" and last[:1].isupper()

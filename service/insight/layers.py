"""Which tensors of a graph are the outputs of its layers, read from the graph's name scopes.

TensorFlow names every op after the name scopes open when it was created, and Keras opens one
per block call, so `chimera_1/nest_mlp_1/net_1/dense_1/Relu` says the op belongs to the block
chimera/nest_mlp/net/dense. A block's output is the tensor that leaves its scope: produced by
an op inside, read by an op outside (or returned). Only the part of the graph between the
signature's inputs and its outputs counts, so variable reads, constants, assertions and other
signatures' ops are no layers. Scopes that only wrap one op (`flatten_1/Reshape/shape` under
the op `flatten_1/Reshape`) are not blocks either. Ops outside every scope (a TF1 graph's `Mul`,
`Add`) are layers of their own, except the Identity ops that only name a result.

Keras 3 enters each block's scope twice (build, then call), so TensorFlow suffixes every call
scope with `_<n>`; when every block scope carries one, one suffix is removed from each, as the
parameter summary does (service/inspection/call_sites.py).
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import tensorflow as tf

_UNIQUE_SUFFIX = re.compile(r"_\d+$")
_LOOPS = frozenset({"While", "StatelessWhile"})
_NAMING_OPS = frozenset({"Identity", "IdentityN", "Placeholder", "StopGradient"})


@dataclass(frozen=True)
class GraphLayers:
    """Layer outputs in graph order, and the iteration counters of the graph's loops."""

    paths: tuple[str, ...]
    tensors: tuple[tf.Tensor, ...]
    loop_counters: tuple[tf.Tensor, ...]


def find_layers(
    operations: Sequence[tf.Operation], inputs: Iterable[tf.Tensor], outputs: Iterable[tf.Tensor]
) -> GraphLayers:
    """The layers of the subgraph from `inputs` to `outputs`."""
    order = {op.name: i for i, op in enumerate(operations)}
    outputs = list(outputs)
    between = _downstream({t.op.name for t in inputs}, operations) & _upstream(outputs)
    ops = [op for op in operations if op.name in between]
    scopes = _block_scopes(ops, set(order))
    keras = bool(scopes) and all(_UNIQUE_SUFFIX.search(s.rpartition("/")[2]) for s in scopes)
    if keras:
        scopes = {s for s in scopes if _UNIQUE_SUFFIX.search(s.rpartition("/")[2])}
    returned = {t.name for t in outputs}
    chosen: dict[str, tf.Tensor] = {}
    for op in ops:
        if "/" not in op.name and op.type not in _NAMING_OPS and not scopes:
            _offer(chosen, op.name, op, None, returned, order)
        for scope in _enclosing(op.name, scopes):
            _offer(chosen, scope, op, scope, returned, order)
    # In the order the graph computes them; a block before the last layer it ends with.
    ranked = sorted(chosen.items(), key=lambda item: (order[item[1].op.name], item[0].count("/")))
    paths = tuple(_path(scope, keras) for scope, _ in ranked)
    loops = tuple(op.outputs[0] for op in ops if op.type in _LOOPS)
    return GraphLayers(paths, tuple(t for _, t in ranked), loops)


def _offer(
    chosen: dict[str, tf.Tensor],
    key: str,
    op: tf.Operation,
    scope: str | None,
    returned: set[str],
    order: dict[str, int],
) -> None:
    """Keep the latest float tensor of `op` that leaves `scope` (any reader, for a lone op)."""
    for tensor in op.outputs:
        if not tensor.dtype.is_floating:
            continue
        readers = [c.name for c in tensor.consumers()]
        leaves = tensor.name in returned or any(
            scope is None or not _inside(r, scope) for r in readers
        )
        known = chosen.get(key)
        if leaves and (known is None or order[op.name] >= order[known.op.name]):
            chosen[key] = tensor


def _block_scopes(ops: Sequence[tf.Operation], op_names: set[str]) -> set[str]:
    scopes = set()
    for op in ops:
        parts = op.name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            scope = "/".join(parts[:depth])
            if scope in op_names:
                break  # the scope an op opened for its own helpers, and everything under it
            scopes.add(scope)
    return scopes


def _enclosing(name: str, scopes: set[str]) -> list[str]:
    parts = name.split("/")[:-1]
    return [s for s in ("/".join(parts[:d]) for d in range(1, len(parts) + 1)) if s in scopes]


def _inside(op_name: str, scope: str) -> bool:
    return op_name.startswith(scope + "/")


def _path(scope: str, keras: bool) -> str:
    if not keras:
        return scope
    return "/".join(_UNIQUE_SUFFIX.sub("", part) for part in scope.split("/"))


def _downstream(names: set[str], operations: Sequence[tf.Operation]) -> set[str]:
    reached = set(names)
    for op in operations:  # graph order is a topological order of the data edges
        if op.name not in reached and any(t.op.name in reached for t in op.inputs):
            reached.add(op.name)
    return reached


def _upstream(tensors: Sequence[tf.Tensor]) -> set[str]:
    reached: set[str] = set()
    stack = [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op.name not in reached:
            reached.add(op.name)
            stack.extend(t.op for t in op.inputs)
    return reached

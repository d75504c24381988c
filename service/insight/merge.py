"""Merging what several workers hold of one version into what clients see.

Each worker samples its own share of the traffic. Activation statistics add up exactly (one
histogram grid everywhere, moments by Chan's update), so the merged summary is the one a single
worker would hold had it sampled all of those requests; the window is the union of the
workers' windows. Input drift merges exactly when the workers share a reference (the file
beside the model: their bin counts add up); with references of their own (each worker's first
sampled requests) the merged scores are the workers' own, averaged by window rows, which is an
approximation. Call these even for one worker: they also trim the histograms for people.
"""

from collections.abc import Sequence

import numpy as np
from google.protobuf.message import Message

from service.insight.drift import score_state
from service.insight.fetch import ACTIVATIONS
from service.insight.moments import Moments
from service.protos.blockserve.v1 import inspection_pb2
from service.shared.signature import DEFAULT_SIGNATURE


def merge_activation_summaries(parts: Sequence[bytes]) -> inspection_pb2.ActivationSummary:
    """One ActivationSummary from the workers' VersionInsight.activation_summary()."""
    summaries = [inspection_pb2.ActivationSummary.FromString(p) for p in parts]
    if not summaries:
        return inspection_pb2.ActivationSummary()
    sampled = [s for s in summaries if s.sampled_requests]
    signatures = {s.signature for s in sampled}
    if DEFAULT_SIGNATURE in signatures or not sampled:
        chosen = DEFAULT_SIGNATURE if sampled else summaries[0].signature
    else:
        chosen = max(
            signatures, key=lambda n: sum(s.sampled_requests for s in sampled if s.signature == n)
        )
    same = [s for s in summaries if s.signature == chosen]
    merged = inspection_pb2.ActivationSummary(
        model=summaries[0].model,
        version=summaries[0].version,
        signature=chosen,
        sampled_requests=sum(s.sampled_requests for s in same),
    )
    windows: dict[str, Moments] = {}
    totals: dict[str, Moments] = {}
    loops = Moments()
    for summary in same:
        for layer in summary.layers:
            windows.setdefault(layer.path, Moments()).add(Moments.from_proto(layer.window))
            totals.setdefault(layer.path, Moments()).add(Moments.from_proto(layer.since_load))
        if summary.loop_halvings.histogram.counts:
            loops.add(Moments.from_proto(summary.loop_halvings))
    for path in windows:
        merged.layers.add(
            path=path,
            window=windows[path].to_proto(trim=True),
            since_load=totals[path].to_proto(trim=True),
        )
    merged.loop_halvings.CopyFrom(loops.to_proto(trim=True))
    return merged


def merge_input_drift(parts: Sequence[bytes]) -> inspection_pb2.InputDrift:
    """One InputDrift from the workers' VersionInsight.input_drift()."""
    states = [inspection_pb2.InputDriftState.FromString(p) for p in parts]
    if not states:
        return inspection_pb2.InputDrift()
    first = states[0]
    merged = inspection_pb2.InputDriftState()
    merged.drift.CopyFrom(first.drift)
    merged.drift.window_rows = sum(s.drift.window_rows for s in states)
    merged.drift.reference.rows = max(s.drift.reference.rows for s in states)
    if len(states) == 1:
        return first.drift
    if len({s.reference_id for s in states}) == 1 and first.reference_id:
        _add_bins(merged, [s for s in states if s.inputs])
        score_state(merged)
        return merged.drift
    return _averaged(merged.drift, [s.drift for s in states])


def _add_bins(merged: inspection_pb2.InputDriftState, states: list) -> None:
    if not states:
        return
    merged.inputs.extend(states[0].inputs)
    for state in states[1:]:
        for into, bins in zip(merged.inputs, state.inputs, strict=False):
            for f_into, f in zip(into.features, bins.features, strict=False):
                for field in ("decile_counts", "percentile_counts"):
                    total = np.add(getattr(f_into, field), getattr(f, field))
                    getattr(f_into, field)[:] = total.tolist()


def _averaged(
    merged: inspection_pb2.InputDrift, drifts: list[inspection_pb2.InputDrift]
) -> inspection_pb2.InputDrift:
    del merged.inputs[:]
    scored = [d for d in drifts if d.inputs]
    weight = sum(d.window_rows for d in scored)
    if not weight:
        return merged
    for i, first in enumerate(scored[0].inputs):
        into = merged.inputs.add(name=first.name)
        for j, feature in enumerate(first.features):
            psi = sum(d.inputs[i].features[j].psi * d.window_rows for d in scored) / weight
            ks = sum(d.inputs[i].features[j].ks * d.window_rows for d in scored) / weight
            into.features.add(index=feature.index, psi=psi, ks=ks)
            into.score = max(into.score, psi)
    return merged


def merge_insight(kind: str, parts: Sequence[bytes]) -> Message:
    """The workers' shares of one kind of live insight (ACTIVATIONS or DRIFT), merged."""
    if kind == ACTIVATIONS:
        return merge_activation_summaries(parts)
    return merge_input_drift(parts)

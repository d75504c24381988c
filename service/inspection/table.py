"""Parameter summaries and comparisons as text tables, for people rather than programs.

The summary reads like Keras' `model.summary()`: the block hierarchy as an indented tree with
each block's parameter total, every parameter under its block, the totals at the bottom.
"""

from collections import Counter
from collections.abc import Sequence

from service.inspection.parameters import kind_label
from service.protos.blockserve.v1 import inspection_pb2

_STATS = ("mean", "std", "min", "max", "l2_norm")
REFERENCE_FILE_NAME = "assets.extra/blockserve_reference.npz"
_STAT_HEADERS = ("Mean", "Std", "Min", "Max", "L2 norm")
_INDENT = "  "


def render_summary(summary: inspection_pb2.ParameterSummary) -> str:
    """The summary as a table: one row per block and per parameter, totals at the bottom."""
    block_totals: Counter[str] = Counter()
    for layer in summary.layers:
        for block in _blocks(layer.path):
            block_totals[block] += layer.total_parameters
    rows: list[tuple[str, ...]] = []
    shown: set[str] = set()
    for layer in summary.layers:
        for block in _blocks(layer.path):
            if block not in shown:
                shown.add(block)
                label = _INDENT * block.count("/") + block.rpartition("/")[2]
                rows.append((label, "", f"{block_totals[block]:,}", "", *[""] * len(_STATS)))
        indent = _INDENT * (layer.path.count("/") + 1 if layer.path else 0)
        for v in layer.variables:
            numbers = (_number(getattr(v, stat)) for stat in _STATS)
            rows.append(
                (indent + v.name, _shape(v.shape), f"{v.count:,}", kind_label(v.kind), *numbers)
            )
    header = ("Layer / parameter", "Shape", "Count", "Kind", *_STAT_HEADERS)
    lines = [f"Parameters of {summary.model}, version {summary.version}"]
    lines += _table(header, rows, left_columns=(0, 1, 3))
    lines += [
        f"Total params:         {summary.total_parameters:>14,}",
        f"Trainable params:     {summary.trainable_parameters:>14,}",
        f"Non-trainable params: {summary.non_trainable_parameters:>14,}",
        f"Constant params:      {summary.constant_parameters:>14,}",
    ]
    troubled = [v for layer in summary.layers for v in layer.variables if v.non_finite_count]
    for v in troubled:
        lines.append(f"Warning: {v.path} holds {v.non_finite_count:,} NaN or infinite values")
    return "\n".join(lines)


def render_comparison(comparison: inspection_pb2.ParameterComparison) -> str:
    """The comparison as a table of compared parameters, then what was added, removed or
    reshaped, then the summary."""
    header = (
        *("Parameter", "Shape", "Kind", "Base L2", "L2", "L2 change"),
        *("Max |diff|", "Rel. diff", "Cosine", "Changed"),
    )
    rows = [
        (
            v.path,
            _shape(v.shape),
            _kind_change(v.base_kind, v.kind),
            *(_number(x) for x in (v.base_l2_norm, v.l2_norm, v.l2_norm_change)),
            *(_number(x) for x in (v.max_abs_diff, v.relative_l2_diff, v.cosine_similarity)),
            "yes" if v.changed else "no",
        )
        for v in comparison.variables
    ]
    s = comparison.summary
    lines = [
        f"Parameters of {comparison.model}: version {comparison.version} "
        f"against version {comparison.base_version}"
    ]
    lines += _table(header, rows, left_columns=(0, 1, 2, 9))
    for title, unmatched in (
        (f"Only in version {comparison.version} (added):", comparison.added),
        (f"Only in version {comparison.base_version} (removed):", comparison.removed),
    ):
        if unmatched:
            lines.append(title)
            lines += [
                f"{_INDENT}{u.path}  {_shape(u.shape)}  {u.count:,}  {kind_label(u.kind)}"
                for u in unmatched
            ]
    if comparison.reshaped:
        lines.append("Shape changed (values not compared):")
        lines += [
            f"{_INDENT}{r.path}  {_shape(r.base_shape)} -> {_shape(r.shape)}"
            for r in comparison.reshaped
        ]
    lines += [
        f"Compared: {s.compared:,} parameters, {s.changed:,} changed, "
        f"{s.compared - s.changed:,} unchanged",
        f"Added: {s.added:,}, removed: {s.removed:,}, reshaped: {s.reshaped:,}",
        f"Total params: {s.base_total_parameters:,} -> {s.total_parameters:,}",
    ]
    if s.largest_change_path:
        lines.append(
            f"Largest change: {s.largest_change_path} (relative L2 difference "
            f"{_number(s.largest_relative_l2_diff)}, largest |difference| "
            f"{_number(s.max_abs_diff)})"
        )
    return "\n".join(lines)


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], left_columns: Sequence[int]
) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i in left_columns else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "-" * len(line(["-" * w for w in widths]))
    return [rule, line(header), rule, *(line(row) for row in rows), rule]


def _blocks(path: str) -> list[str]:
    """The path and its ancestors, outermost first: "a/b" gives ["a", "a/b"]."""
    parts = path.split("/") if path else []
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _number(x: float) -> str:
    return f"{x:.4g}"  # "0", "nan" and "inf" as they are


def _kind_change(base_kind: int, kind: int) -> str:
    if base_kind == kind:
        return kind_label(kind)
    return f"{kind_label(base_kind)} -> {kind_label(kind)}"


def render_activations(summary: inspection_pb2.ActivationSummary) -> str:
    """Per-layer activation statistics over the sampled window, in the order the graph
    computes them (a block after the layers inside it, so paths rather than a tree), the mean
    since load beside them, loop iterations at the bottom."""
    header = (
        *("Layer", "Values", "Mean", "Std", "Min", "Max"),
        *("Zeros", "Non-finite", "Mean since load"),
    )
    rows = []
    for layer in summary.layers:
        w = layer.window
        rows.append(
            (
                layer.path,
                f"{w.count:,}",
                *(_number(x) for x in (w.mean, w.std, w.min, w.max)),
                _percent(w.zero_fraction),
                _percent(w.non_finite_fraction),
                _number(layer.since_load.mean),
            )
        )
    lines = [
        f"Activations of {summary.model}, version {summary.version}, signature "
        f"{summary.signature or '-'}: {summary.sampled_requests:,} sampled requests"
    ]
    if not summary.layers:
        return "\n".join([*lines, "No sampled request has run through the layers yet."])
    lines += _table(header, rows, left_columns=(0,))
    loops = summary.loop_halvings
    if loops.count:
        lines.append(
            f"Loop iterations per request: mean {_number(loops.mean)}, min {_number(loops.min)}, "
            f"max {_number(loops.max)} over {loops.count:,} requests"
        )
    return "\n".join(lines)


def render_drift(drift: inspection_pb2.InputDrift) -> str:
    """Each input's drift score and its features' PSI and KS distance."""
    source = {
        "file": f"{REFERENCE_FILE_NAME} ({drift.reference.rows:,} rows)",
        "first_requests": f"the first sampled requests ({drift.reference.rows:,} rows)",
        "none": "none (sampling is off)",
    }.get(drift.reference.source, drift.reference.source or "none")
    lines = [
        f"Input drift of {drift.model}, version {drift.version}",
        f"Reference: {source}; window: the last {drift.window_rows:,} sampled rows",
    ]
    if not drift.inputs:
        return "\n".join([*lines, "Not enough sampled rows to compare yet."])
    rows = []
    for scored in drift.inputs:
        rows.append((scored.name, "", _number(scored.score), "", ""))
        rows += [
            ("", str(f.index), _number(f.psi), _number(f.psi), _number(f.ks))
            for f in scored.features
        ]
    rows = [(r[0], r[1], r[2] if r[0] else "", r[3], r[4]) for r in rows]
    lines += _table(("Input", "Feature", "Score", "PSI", "KS"), rows, left_columns=(0,))
    lines.append("Score: the largest PSI of the input's features; above 0.25 is significant.")
    return "\n".join(lines)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%" if fraction == fraction else "nan"

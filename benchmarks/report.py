"""The issue's targets checked against one run's results, and the run written as Markdown and PNG.

Works on the JSON-ready dictionary `benchmarks.run` builds, so a saved `latest.json` can be
re-rendered without measuring again.
"""

from dataclasses import asdict, dataclass
from typing import Any

BLOCKSERVE = ("blockserve_batching_off", "blockserve_batching_on")
FLOORS = ("floor_threaded", "floor_asyncio")
MIB = 1 << 20


@dataclass(frozen=True)
class Target:
    """One ratio the issue asks for, measured for one blockserve configuration."""

    server: str
    target: str
    ratio: float | None
    bound: str
    """'>= 3' or '<= 0.8'."""
    passed: bool | None
    """None when a server the ratio needs was not run."""


def best(results: dict[str, Any], key: str, metric: str) -> float | None:
    server = results["servers"].get(key)
    return None if server is None else server["best"].get(metric)


def floor(results: dict[str, Any]) -> dict[str, Any]:
    """The faster of the bare servers, metric by metric: the most any Python server can do."""
    ran = [k for k in FLOORS if k in results["servers"]]
    if not ran:
        return {}
    by_throughput = max(ran, key=lambda k: best(results, k, "ok_per_second_rows_1") or 0)
    by_latency = min(ran, key=lambda k: best(results, k, "latency_p50_ms") or float("inf"))
    return {
        "ok_per_second_rows_1": best(results, by_throughput, "ok_per_second_rows_1"),
        "ok_per_second_rows_1_from": by_throughput,
        "latency_p50_ms": best(results, by_latency, "latency_p50_ms"),
        "latency_p50_ms_from": by_latency,
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _target(server: str, target: str, ratio: float | None, bound: str) -> Target:
    op, limit = bound.split()
    if ratio is None:
        return Target(server, target, ratio, bound, None)
    passed = ratio >= float(limit) if op == ">=" else ratio <= float(limit)
    return Target(server, target, ratio, bound, passed)


def targets(results: dict[str, Any]) -> list[Target]:
    """Every target of the issue, for each blockserve configuration that ran."""
    bare = results["floor"]
    signature_p50 = results["signature_call"]["rows_1_ms"]["p50"]
    baseline_rss = results["memory_baseline"]["rss_bytes"]
    naive = lambda metric: best(results, "naive", metric)  # noqa: E731
    found = []
    for key in (k for k in BLOCKSERVE if k in results["servers"]):
        mine = lambda metric, key=key: best(results, key, metric)  # noqa: E731
        throughput, p50 = mine("ok_per_second_rows_1"), mine("latency_p50_ms")
        floor_p50 = bare.get("latency_p50_ms")
        found += [
            _target(
                key,
                "req/s, 1 row, 64 streams: blockserve / naive",
                _ratio(throughput, naive("ok_per_second_rows_1")),
                ">= 3",
            ),
            _target(
                key,
                "req/s, 1 row, 64 streams: blockserve / floor",
                _ratio(throughput, bare.get("ok_per_second_rows_1")),
                ">= 0.8",
            ),
            _target(
                key,
                "sequential p50: blockserve / naive",
                _ratio(p50, naive("latency_p50_ms")),
                "<= 0.8",
            ),
            _target(
                key,
                "sequential p50: blockserve / (floor p50 + signature call p50)",
                _ratio(p50, None if floor_p50 is None else floor_p50 + signature_p50),
                "<= 1.25",
            ),
            _target(
                key,
                "rows/s, 32 rows, 64 streams: blockserve / naive",
                _ratio(mine("rows_per_second_rows_32"), naive("rows_per_second_rows_32")),
                ">= 3",
            ),
            _target(
                key,
                "RSS, all seed models loaded: blockserve / TensorFlow-only process",
                _ratio(results["servers"][key]["rss_ready_bytes"], baseline_rss),
                "<= 1.3",
            ),
        ]
    return found


def _cell(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    settings = meta["settings"]
    lines = [
        f"## blockserve benchmark ({meta['mode']}, {meta['finished']})",
        "",
        f"{meta['cpu_count']} CPUs; load average (1 min) {meta['load_average_start'][0]:.2f} "
        f"at the start, {meta['load_average_end'][0]:.2f} at the end. Best of "
        f"{settings['repeats']} interleaved rounds; h2load {settings['duration']} s per run, "
        f"{settings['connections']} connection x {settings['streams']} streams; sequential "
        f"latency over {settings['latency_calls']} calls, one row.",
        "",
        "| server | seq. p50 ms | seq. p99 ms | req/s, 1 row | p50 ms at 64 streams "
        "| rows/s, 32 rows | server CPU ms/request | RSS ready MiB | RSS end MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for server in results["servers"].values():
        b = server["best"]
        rows32 = None if server["answers_fixed"] else b.get("rows_per_second_rows_32")
        lines.append(
            f"| {server['title']} | {_cell(b.get('latency_p50_ms'), 3)} "
            f"| {_cell(b.get('latency_p99_ms'), 3)} | {_cell(b.get('ok_per_second_rows_1'))} "
            f"| {_cell(b.get('load_p50_ms_rows_1'), 1)} | {_cell(rows32)} "
            f"| {_cell(b.get('cpu_ms_per_ok_rows_1'), 3)} "
            f"| {_cell(server['rss_ready_bytes'] / MIB)} | {_cell(server['rss_end_bytes'] / MIB)} |"
        )
    signature = results["signature_call"]
    baseline = results["memory_baseline"]
    bare = results["floor"]
    lines += [
        "",
        f"In-process signature call p50: {signature['rows_1_ms']['p50']:.3f} ms for 1 row, "
        f"{signature['rows_256_ms']['p50']:.3f} ms for 256 rows. TensorFlow plus the "
        f"{baseline['loaded']} seed SavedModels alone: {baseline['rss_bytes'] / MIB:,.0f} MiB RSS. "
        f"Floor: req/s from {bare.get('ok_per_second_rows_1_from', '—')}, p50 from "
        f"{bare.get('latency_p50_ms_from', '—')}. The floor answers every request with the same "
        "one-row response, so it has no rows/s.",
        "",
        "| blockserve | target | measured | required | |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    verdict = {True: "pass", False: "**FAIL**", None: "not run"}
    for t in results["targets"]:
        ratio = "—" if t["ratio"] is None else f"{t['ratio']:.2f}"
        lines.append(
            f"| {t['server'].removeprefix('blockserve_')} | {t['target']} | {ratio} "
            f"| {t['bound']} | {verdict[t['passed']]} |"
        )
    control = results.get("negative_control")
    if control:
        lines += [
            "",
            f"Error accounting check: {control['completed']} answers to a Predict for a model "
            f"that does not exist, all HTTP 200; counted OK: {control['ok']}; blockserve's "
            f"/metrics counted {control['server_not_found']:.0f} NOT_FOUND: "
            f"{'consistent' if control['consistent'] else '**INCONSISTENT**'}.",
        ]
    checked = [
        run["server_agrees"]
        for server in results["servers"].values()
        for runs in server["throughput"].values()
        for run in runs
        if "server_agrees" in run
    ]
    if checked:
        lines += [
            "",
            f"blockserve's own count of OK answers agreed with the byte count in "
            f"{sum(checked)} of {len(checked)} throughput runs.",
        ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: str) -> None:
    """p50 (solid) and p99 (dashed) latency against throughput over the concurrency sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for server in results["servers"].values():
        points = sorted(server["sweep"], key=lambda p: p["streams"])
        if not points:
            continue
        x = [p["ok_per_second"] for p in points]
        (line,) = ax.plot(x, [p["latency_ms"]["p50"] for p in points], marker="o")
        line.set_label(server["title"])
        ax.plot(x, [p["latency_ms"]["p99"] for p in points], ls="--", color=line.get_color())
        for p in points:
            ax.annotate(str(p["streams"]), (p["ok_per_second"], p["latency_ms"]["p50"]), fontsize=7)
    ax.set_xlabel("throughput (gRPC OK answers/s)")
    ax.set_ylabel("latency (ms): p50 solid, p99 dashed")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(
        "mlp, 1 row per request, one h2load run per point\n"
        "labels: concurrent streams on 1 connection (64: the round with the best rate)",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def as_dicts(found: list[Target]) -> list[dict[str, Any]]:
    return [asdict(t) for t in found]

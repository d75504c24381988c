"""The issue's targets checked against one run's results, and the run written as Markdown and PNG.

Works on the JSON-ready dictionary `benchmarks.run` builds, so a saved `latest.json` can be
re-rendered without measuring again.
"""

from dataclasses import asdict, dataclass
from typing import Any

BLOCKSERVE = {
    "blockserve_default": "default",
    "blockserve_exact": "exact batching on",
    "blockserve_batching": "batching",
    "blockserve_no_sampling": "insight off",
    "blockserve_workers_2": "2 workers",
    "blockserve_v2": "default, V2",
}
"""blockserve's configurations in the targets table, by key, with their column heading."""
FLOORS = ("floor_threaded", "floor_asyncio")
MIB = 1 << 20
FRONT_RSS_LIMIT_MIB = 100
"""'The front small (tens of MB)'."""
LOAD_SHARE = "0.5"
"""The open-loop arrival rate (share of the floor's capacity) of the p99-under-load target."""
EXACT_ON, EXACT_OFF = "blockserve_exact", "blockserve_default"
DEFAULT, NO_SAMPLING = "blockserve_default", "blockserve_no_sampling"
SAMPLING_RATE_FLOOR = 0.97
"""Live insight's sampling at its default rate may cost at most 3% of the rate (issue 17)."""
"""blockserve with exact batching (--enable_exact_batching=true) and without (default flags)."""
HEAD_OF_LINE_P99_MS = 50
"""Small requests' p99 while a large one is served (the issue's old figure: 2,613 ms)."""


@dataclass(frozen=True)
class Target:
    """One figure the issue asks for, measured for one blockserve configuration."""

    server: str
    target: str
    measured: float | None
    """A ratio, except where the target names a unit."""
    bound: str
    """'>= 3' or '<= 0.8'."""
    passed: bool | None
    """None when a server the figure needs was not run."""


def best(results: dict[str, Any], key: str, metric: str) -> Any:
    server = results["servers"].get(key)
    return None if server is None else server["best"].get(metric)


def floor(results: dict[str, Any]) -> dict[str, Any]:
    """The faster of the bare servers, metric by metric: the most any Python server can do."""
    ran = [k for k in FLOORS if k in results["servers"]]
    if not ran:
        return {}
    by_throughput = max(ran, key=lambda k: best(results, k, "ok_per_second_rows_1") or 0)
    by_latency = min(ran, key=lambda k: best(results, k, "latency_p50_ms") or float("inf"))
    by_load_p99 = min(ran, key=lambda k: open_loop(results, k, "p99_ms") or float("inf"))
    return {
        "ok_per_second_rows_1": best(results, by_throughput, "ok_per_second_rows_1"),
        "ok_per_second_rows_1_from": by_throughput,
        "latency_p50_ms": best(results, by_latency, "latency_p50_ms"),
        "latency_p50_ms_from": by_latency,
        "open_loop_p99_ms": open_loop(results, by_load_p99, "p99_ms"),
        "open_loop_p99_ms_from": by_load_p99,
    }


def open_loop(results: dict[str, Any], key: str, metric: str, share: str = LOAD_SHARE) -> Any:
    runs = best(results, key, "open_loop")
    return None if not runs or share not in runs else runs[share].get(metric)


def fastest_of(results: dict[str, Any], family: str, metric: str) -> float | None:
    """The best figure among the servers of one family (MLServer's two settings, say)."""
    found = [
        s["best"][metric]
        for s in results["servers"].values()
        if s["family"] == family and s["best"].get(metric) is not None
    ]
    return max(found) if found else None


def processes(server: dict[str, Any], memory: str = "memory_ready") -> tuple[int, list[int]]:
    """(front RSS, TensorFlow process RSS each) of one server. When its largest child is larger
    than the process itself, the server is split: the `workers` largest children are the
    workers. Otherwise one process does everything, and it is both front and worker."""
    reading = server[memory]
    main, children = reading["main_bytes"], reading["children_bytes"]
    if children and children[0] > main:
        return main, children[: max(1, server.get("workers") or 1)]
    return main, [main]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _target(server: str, target: str, measured: float | None, bound: str) -> Target:
    op, limit = bound.split()
    if measured is None:
        return Target(server, target, measured, bound, None)
    passed = measured >= float(limit) if op == ">=" else measured <= float(limit)
    return Target(server, target, measured, bound, passed)


def targets(results: dict[str, Any]) -> list[Target]:
    """Every target of the issue, for each blockserve configuration that ran."""
    bare = results["floor"]
    signature_p50 = results["signature_call"]["rows_1_ms"]["p50"]
    baseline_rss = results["memory_baseline"]["rss_bytes"]
    naive = lambda metric: best(results, "naive", metric)  # noqa: E731
    floor_p50 = bare.get("latency_p50_ms")
    found = []
    for key in (k for k in BLOCKSERVE if k in results["servers"]):
        server = results["servers"][key]
        mine = lambda metric, key=key: best(results, key, metric)  # noqa: E731
        rate, p50 = mine("ok_per_second_rows_1"), mine("latency_p50_ms")
        front, workers = processes(server)
        exact = server["exactness"]
        rows = [
            (
                "req/s, 1 row, 64 streams: / asyncio floor",
                _ratio(rate, best(results, "floor_asyncio", "ok_per_second_rows_1")),
                ">= 0.8",
            ),
            (
                "req/s, 1 row, 64 streams: / naive",
                _ratio(rate, naive("ok_per_second_rows_1")),
                ">= 3",
            ),
            (
                "req/s, 1 row, 64 streams: / MLServer (its faster setting)",
                _ratio(rate, fastest_of(results, "mlserver", "ok_per_second_rows_1")),
                ">= 1",
            ),
            (
                "req/s, 1 row, 64 streams: / Triton",
                _ratio(rate, fastest_of(results, "triton", "ok_per_second_rows_1")),
                ">= 1",
            ),
            (
                "rows/s, 32 rows, 64 streams: / naive",
                _ratio(mine("rows_per_second_rows_32"), naive("rows_per_second_rows_32")),
                ">= 3",
            ),
            ("sequential p50: / naive", _ratio(p50, naive("latency_p50_ms")), "<= 0.8"),
            (
                "sequential p50: / (floor p50 + in-process signature call p50)",
                _ratio(p50, None if floor_p50 is None else floor_p50 + signature_p50),
                "<= 1.25",
            ),
            (
                f"p99 under load (open loop, {float(LOAD_SHARE):.0%} of floor capacity): "
                "/ floor p99 at the same rate",
                _ratio(open_loop(results, key, "p99_ms"), bare.get("open_loop_p99_ms")),
                "<= 2",
            ),
            (
                "answers bit-exact: share of checked answers equal to the in-process call",
                None if exact is None else exact["equal_share"],
                ">= 1",
            ),
            ("front RSS, MiB", round(front / MIB, 1), f"<= {FRONT_RSS_LIMIT_MIB}"),
            (
                "largest TensorFlow worker RSS / TensorFlow-only process",
                _ratio(max(workers), baseline_rss),
                "<= 1.3",
            ),
        ]
        found += [_target(key, name, measured, bound) for name, measured, bound in rows]
    return found + _batching_targets(results)


def _batching_targets(results: dict[str, Any]) -> list[Target]:
    """The targets of exact batching on the coupled model, and of head-of-line blocking: of
    blockserve with default flags, against itself with exact batching off where a ratio."""
    coupled = results.get("coupled", {})
    on, off = coupled.get(EXACT_ON), coupled.get(EXACT_OFF)
    rows = []
    if on and off:
        rows += [
            (
                "chimera req/s, 1 row, 64 streams: exact batching on / off",
                _ratio(on["best"]["ok_per_second"], off["best"]["ok_per_second"]),
                ">= 1.1",
            ),
            (
                "chimera TensorFlow worker CPU per request: exact batching on / off "
                "(one call a request)",
                _ratio(_worker_cpu(on["best"]), _worker_cpu(off["best"])),
                "<= 0.4",
            ),
        ]
    if on:
        rows.append(
            (
                "chimera answers bit-exact under 64 concurrent requests, exact batching on (share)",
                on["exactness"]["equal_share"],
                ">= 1",
            )
        )
    blocking = results.get("head_of_line")
    if blocking:
        large = blocking["best"]["large"]
        rows.append(
            (
                f"small requests' p99 while a {large['request_bytes'] / 1e6:.0f} MB REST predict "
                "is served, ms",
                blocking["best"]["during_large"]["p99_ms"],
                f"<= {HEAD_OF_LINE_P99_MS}",
            )
        )
    found = [_target(EXACT_ON, name, measured, bound) for name, measured, bound in rows]
    return found + _sampling_targets(results)


def _sampling_targets(results: dict[str, Any]) -> list[Target]:
    """Live insight's cost: blockserve with default flags (sampling at its default rate)
    against itself with sampling off, in the same rounds."""
    servers = results.get("servers", {})
    sampled, unsampled = servers.get(DEFAULT), servers.get(NO_SAMPLING)
    if not (sampled and unsampled):
        return []
    rate = _ratio(
        sampled["best"]["ok_per_second_rows_1"], unsampled["best"]["ok_per_second_rows_1"]
    )
    name = "req/s, 1 row, 64 streams: live insight sampling at its default rate / off"
    return [_target(DEFAULT, name, rate, f">= {SAMPLING_RATE_FLOOR}")]


def _worker_cpu(best: dict[str, Any]) -> float | None:
    """CPU ms per request of the TensorFlow workers (the lane apart: one-row requests never
    go there)."""
    return best["cpu_ms_per_ok_by_process"].get("workers")


def _cell(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _exact_cell(exact: dict[str, Any] | None) -> str:
    if exact is None:
        return "—"
    if exact["exact"]:
        return "yes"
    parts = []
    alone = [rows for rows, same in exact["alone"].items() if not same]
    if alone:
        parts.append(f"{' and '.join(alone)} rows alone")
    if exact["concurrent_differing"]:
        parts.append(f"{exact['concurrent_differing']}/{exact['concurrent_calls']} concurrent")
    return f"**no** ({', '.join(parts)}; up to {exact['max_abs_difference']:.1e})"


def _memory_cell(server: dict[str, Any]) -> str:
    reading = server["memory_ready"]
    children = reading["children_bytes"]
    largest = _cell(children[0] / MIB) if children else "—"
    return (
        f"{_cell(reading['main_bytes'] / MIB)} / {largest} / {_cell(reading['tree_bytes'] / MIB)}"
    )


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    settings = meta["settings"]
    lines = [
        f"## blockserve benchmark ({meta['mode']}, {meta['finished']})",
        "",
        f"{meta['cpu_count']} CPUs; load average (1, 5, 15 min) "
        f"{_load(meta['load_average_start'])} at the start, {_load(meta['load_average_end'])} "
        "at the end (the issue asks for nothing else running on the machine). Best of "
        f"{settings['repeats']} interleaved rounds; h2load {settings['duration']} s per run, "
        f"{settings['connections']} connection x {settings['streams']} streams; sequential "
        f"latency over {settings['latency_calls']} calls, one row. CPU is the whole process "
        "tree's (front and workers, MLServer's workers, Triton's backend stub).",
        "",
        "| server | exact | seq. p50 ms | seq. p99 ms | req/s, 1 row | p50 / p99 ms at 64 "
        "streams | rows/s, 32 rows | CPU ms/request | RSS MiB: process / largest child / tree |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for server in results["servers"].values():
        b = server["best"]
        rows32 = None if server["answers_fixed"] else b.get("rows_per_second_rows_32")
        lines.append(
            f"| {server['title']} | {_exact_cell(server['exactness'])} "
            f"| {_cell(b.get('latency_p50_ms'), 3)} "
            f"| {_cell(b.get('latency_p99_ms'), 3)} | {_cell(b.get('ok_per_second_rows_1'))} "
            f"| {_cell(b.get('load_p50_ms_rows_1'), 1)} / {_cell(b.get('load_p99_ms_rows_1'), 1)} "
            f"| {_cell(rows32)} | {_cell(b.get('cpu_ms_per_ok_rows_1'), 3)} "
            f"| {_memory_cell(server)} |"
        )
    for key, reason in results.get("peers_not_run", {}).items():
        lines.append(f"| {key}: not run ({reason}) | | | | | | | | |")
    lines += ["", *_open_loop_lines(results), "", *_workers_lines(results)]
    lines += ["", *_exact_batching_lines(results), "", *_coupled_lines(results)]
    lines += ["", *_rest_lines(results), "", *_head_of_line_lines(results)]
    signature = results["signature_call"]
    baseline = results["memory_baseline"]
    bare = results["floor"]
    lines += [
        "",
        f"In-process signature call p50: {signature['rows_1_ms']['p50']:.3f} ms for 1 row, "
        f"{signature['rows_256_ms']['p50']:.3f} ms for 256 rows. TensorFlow plus the "
        f"{baseline['loaded']} seed SavedModels alone: {baseline['rss_bytes'] / MIB:,.0f} MiB RSS "
        "(blockserve loads all of them; the peers and the naive server only mlp). "
        f"Floor: req/s from {bare.get('ok_per_second_rows_1_from', '—')}, p50 from "
        f"{bare.get('latency_p50_ms_from', '—')}. The floor answers every request with the same "
        "one-row response, so it has no rows/s and no exactness. *Exact*: the 1- and 32-row "
        "reference requests alone, and "
        f"{meta.get('exact_burst', 64)} one-row requests at once, each answer bit for bit the "
        "SavedModel's own in-process call on the same rows.",
        "",
        *_targets_lines(results),
    ]
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


def _open_loop_lines(results: dict[str, Any]) -> list[str]:
    setup = results["meta"].get("open_loop")
    if not setup:
        return []
    lines = [
        f"Open loop: one-row requests arriving at a fixed rate, "
        f"{' and '.join(f'{s:.0%}' for s in setup['shares_of_floor'])} of the floor's capacity "
        f"({setup['floor_capacity']:,.0f} req/s), on one connection, at most "
        f"{setup['max_streams']} in flight; best of "
        f"{results['meta']['settings']['open_loop_repeats']} rounds by p99. A server that "
        f"answered under {setup['kept_up_share']:.0%} of the offered rate (or any error) did "
        "not keep up: its queue grew for the whole run, and its latencies are those of the "
        "requests it did answer.",
        "",
        "| server | arrival rate | answered req/s | p50 ms | p99 ms | p99.9 ms | CPU ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for server in results["servers"].values():
        for share, run in server["best"].get("open_loop", {}).items():
            answered = _cell(run["ok_per_second"])
            if not run["kept_up"]:
                answered += " **(fell behind)**"
            lines.append(
                f"| {server['title']} | {float(share):.0%}: {run['rate']:,} req/s | {answered} "
                f"| {_cell(run.get('p50_ms'), 2)} | {_cell(run.get('p99_ms'), 2)} "
                f"| {_cell(run.get('p99_9_ms'), 2)} | {_cell(run.get('cpu_ms_per_ok'), 3)} |"
            )
    return lines


def _load(load: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in load)


def _by_process(cpu: dict[str, float]) -> str:
    """CPU ms per request of the front / the TensorFlow workers."""
    return f"{_cell(cpu.get('front'), 3)} / {_cell(cpu.get('workers'), 3)}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _exact_batching_lines(results: dict[str, Any]) -> list[str]:
    """mlp at 64 streams with exact batching on and off."""
    on, off = (results["servers"].get(k) for k in (EXACT_ON, EXACT_OFF))
    if on is None or off is None:
        return []
    lines = [
        "Exact batching on mlp (gRPC Predict, 1 row, 64 streams): the looped share is the "
        "fastest run's requests answered in a looped call (`blockserve_request_paths_total`).",
        "",
        "| blockserve | exact | req/s, 1 row | CPU ms/request | front / workers CPU ms/request "
        "| looped share |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for server in (on, off):
        b = server["best"]
        lines.append(
            f"| {server['title']} | {_exact_cell(server['exactness'])} "
            f"| {_cell(b['ok_per_second_rows_1'])} | {_cell(b['cpu_ms_per_ok_rows_1'], 3)} "
            f"| {_by_process(b.get('cpu_ms_per_ok_by_process_rows_1', {}))} "
            f"| {_share(b.get('looped_share_rows_1'))} |"
        )
    rate = _ratio(on["best"]["ok_per_second_rows_1"], off["best"]["ok_per_second_rows_1"])
    cpu = _ratio(on["best"]["cpu_ms_per_ok_rows_1"], off["best"]["cpu_ms_per_ok_rows_1"])
    lines += ["", f"On / off: {_cell(rate, 2)}x the rate, {_cell(cpu, 2)}x the CPU per request."]
    return lines


def _coupled_lines(results: dict[str, Any]) -> list[str]:
    """chimera (coupled rows) at 64 streams with exact batching on and off."""
    coupled = results.get("coupled")
    if not coupled:
        return []
    lines = [
        "Coupled model: chimera (one scalar for a whole call, so never merged), gRPC Predict, "
        "1 row, 64 streams. *Exact*: the reference row alone and 64 one-row requests at once, "
        "each answer bit for bit its row's own in-process call. CPU by process: the front, and "
        "the TensorFlow worker.",
        "",
        "| blockserve | exact | req/s | p50 / p99 ms | CPU ms/request | front / workers CPU "
        "ms/request | looped share |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for record in coupled.values():
        b = record["best"]
        lines.append(
            f"| {record['title']} | {_exact_cell(record['exactness'])} "
            f"| {_cell(b['ok_per_second'])} | {_cell(b['p50_ms'], 1)} / {_cell(b['p99_ms'], 1)} "
            f"| {_cell(b['cpu_ms_per_ok'], 3)} | {_by_process(b['cpu_ms_per_ok_by_process'])} "
            f"| {_share(b['looped_share'])} |"
        )
    return lines


def _rest_lines(results: dict[str, Any]) -> list[str]:
    """mlp over REST JSON, against the same server's gRPC Predict."""
    rest = results.get("rest_json")
    if not rest:
        return []
    b = rest["best"]
    grpc = best(results, rest["server"], "ok_per_second_rows_1")
    return [
        f"REST JSON: `POST /v1/models/{rest['model']}:predict`, a one-row "
        '`{"instances": [...]}` body, h2load over HTTP/1.1 with '
        f"{rest['connections']} connections, one request in flight on each; OK answers are the "
        "200s. No other server here has REST.",
        "",
        "| server | exact | req/s, 1 row | p50 / p99 ms | CPU ms/request | front / workers CPU "
        "ms/request | / its gRPC Predict req/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        f"| {rest['title']}, REST JSON | {_exact_cell(rest['exactness'])} "
        f"| {_cell(b['ok_per_second'])} | {_cell(b['p50_ms'], 1)} / {_cell(b['p99_ms'], 1)} "
        f"| {_cell(b['cpu_ms_per_ok'], 3)} | {_by_process(b['cpu_ms_per_ok_by_process'])} "
        f"| {_cell(_ratio(b['ok_per_second'], grpc), 2)} |",
    ]


def _head_of_line_lines(results: dict[str, Any]) -> list[str]:
    """Small requests' latency with and without one large request in flight."""
    blocking = results.get("head_of_line")
    if not blocking:
        return []
    best_round = blocking["best"]
    large = best_round["large"]
    lines = [
        f"Head of line: one-row gRPC Predicts of mlp at {blocking['rate']:.0f} req/s from a "
        f"process of their own, alone and while one REST predict of {large['rows']:,} rows "
        f"({large['request_bytes'] / 1e6:.1f} MB of JSON) is served: it answered "
        f"{large['status']} in {large['seconds']:.1f} s; calls by worker "
        f"{large['worker_calls']} (the lane is the last worker). Best of "
        f"{len(blocking['rounds'])} rounds by p99 during the large request.",
        "",
        "| small requests | calls | p50 ms | p99 ms | max ms | not OK |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, key in (("alone", "without_large"), ("during the large request", "during_large")):
        m = best_round[key]
        not_ok = sum(n for code, n in m["codes"].items() if code != "OK")
        lines.append(
            f"| {name} | {m['calls']:,} | {_cell(m['p50_ms'], 2)} | {_cell(m['p99_ms'], 2)} "
            f"| {_cell(m['max_ms'], 2)} | {not_ok} |"
        )
    return lines


def _workers_lines(results: dict[str, Any]) -> list[str]:
    """req/s and CPU per request from one TensorFlow worker to two."""
    one, two = (results["servers"].get(k) for k in ("blockserve_default", "blockserve_workers_2"))
    if one is None or two is None:
        return []
    lines = [
        "| blockserve workers | req/s, 1 row | rows/s, 32 rows | CPU ms/request, 1 row "
        "| processes (RSS MiB) |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for n, server in ((1, one), (2, two)):
        b = server["best"]
        reading = server["memory_ready"]
        sizes = [reading["main_bytes"], *reading["children_bytes"]]
        lines.append(
            f"| {n} | {_cell(b['ok_per_second_rows_1'])} | {_cell(b['rows_per_second_rows_32'])} "
            f"| {_cell(b['cpu_ms_per_ok_rows_1'], 3)} "
            f"| {len(sizes)} ({', '.join(_cell(x / MIB) for x in sizes)}) |"
        )
    scale = _ratio(two["best"]["ok_per_second_rows_1"], one["best"]["ok_per_second_rows_1"])
    lines += ["", f"Two workers against one: {_cell(scale, 2)}x the one-row rate."]
    return lines


def _targets_lines(results: dict[str, Any]) -> list[str]:
    """The targets as one table: a row per target, a column per blockserve configuration."""
    by_target: dict[str, dict[str, dict[str, Any]]] = {}
    bounds: dict[str, str] = {}
    for t in results["targets"]:
        by_target.setdefault(t["target"], {})[t["server"]] = t
        bounds[t["target"]] = t["bound"]
    columns = [k for k in BLOCKSERVE if any(k in row for row in by_target.values())]
    verdict = {True: "pass", False: "**FAIL**", None: "not run"}
    lines = [
        f"| target | required | {' | '.join(BLOCKSERVE[k] for k in columns)} |",
        f"| --- | ---: |{' ---: |' * len(columns)}",
    ]
    for name, row in by_target.items():
        cells = []
        for key in columns:
            t = row.get(key)
            if t is None:
                cells.append("—")
                continue
            measured = "—" if t["measured"] is None else f"{t['measured']:.2f}"
            cells.append(f"{measured} {verdict[t['passed']]}")
        lines.append(f"| {name} | {bounds[name]} | {' | '.join(cells)} |")
    return lines


def plot(results: dict[str, Any], path: str) -> None:
    """p50 (solid) and p99 (dashed) latency against throughput over the concurrency sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
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
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def as_dicts(found: list[Target]) -> list[dict[str, Any]]:
    return [asdict(t) for t in found]

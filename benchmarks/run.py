"""The performance benchmark: blockserve, its peers, a naive server and the floor, side by side.

    python -m benchmarks.run [--smoke] [--out DIR] [--models-dir DIR] [--peers install|cached|none]

Exports the seed models (or reuses --models-dir), installs the peers' venvs when missing
(`benchmarks.peers.venvs`; never with --smoke, which uses cached ones only), starts every server of
the exported `mlp` at once (blockserve with default flags, with --enable_exact_batching=true,
with --enable_batching=true and with --num_workers=2; the naive server; the threaded and the
asyncio floor; MLServer with adaptive batching off and on; Triton through PyTriton), and measures
them one at a time while the others sit idle:

- the answer check: every server's answers to the reference requests against the SavedModel's
  own in-process call, bit for bit, alone and with 64 requests in flight (`benchmarks.answers`);
- in interleaved rounds, sequential latency, one row, from a separate client process
  (`benchmarks.latency_client`), and throughput with h2load, one connection carrying 64
  concurrent streams, at 1 and 32 rows a request, counting only answers with gRPC status OK
  (see `benchmarks.h2load`), with the CPU time of the server's whole process tree;
- a concurrency sweep for the latency-against-throughput plot;
- open-loop runs: one-row requests at fixed rates, shares of the floor's measured capacity;
- resident memory of each process once every model is loaded, against
  `benchmarks.memory_baseline`;
- the coupled model: chimera at 64 streams, one row a request, on blockserve with exact batching
  on (default) and off (`benchmarks.coupled`), with each process's CPU and the looped share from
  /metrics; and mlp over REST JSON on blockserve with default flags (`benchmarks.rest_json`);
- head-of-line blocking: small requests' latency while one large REST predict is served
  (`benchmarks.head_of_line`).

The load average is printed at the start and at the end, and recorded.

A peer that cannot be installed, started or measured is left out with one line saying why; the
run goes on. Writes OUT/latest.json, OUT/latest.md and OUT/latency_throughput.png (OUT defaults
to benchmarks/results) and prints the Markdown. Targets that fail are results, not errors: the
exit status is 0 whenever the run itself worked.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from benchmarks import (
    coupled,
    exported,
    h2load,
    head_of_line,
    report,
    rest_json,
    servers,
    under_load,
    wire,
    wire_v2,
)
from benchmarks.answers import (
    EXACT_BURST,
    ROWS,
    Reference,
    exactness,
    in_process_answers,
    reference_answer,
    same_model,
)
from benchmarks.exported import newest_version
from benchmarks.peers import servers as peer_servers
from benchmarks.peers import venvs
from benchmarks.servers import ServerProcess, ServerSpec

ROOT = servers.ROOT
MODEL = "mlp"
OPEN_LOOP_STREAMS = 256
"""Most requests h2load keeps in flight in an open-loop run: enough that a server within its
capacity never holds requests back, so each one starts on schedule."""
KEPT_UP = 0.95
"""An open-loop run kept up when it answered at least this share of the offered rate."""


@dataclass(frozen=True)
class Settings:
    """How long and how often each thing is measured."""

    duration: float
    warm_up: float
    repeats: int
    connections: int
    streams: int
    latency_calls: int
    latency_warm_up: int
    signature_calls: int
    sweep: tuple[int, ...]
    """Concurrent streams of the plot's extra points; the main runs give the last one."""
    sweep_duration: float
    open_loop_shares: tuple[float, ...]
    """Open-loop arrival rates, as shares of the floor's one-row capacity."""
    open_loop_duration: float
    open_loop_repeats: int
    exact_bursts: int
    rest_connections: int
    """HTTP/1.1 connections of the REST JSON row, one request in flight on each."""
    head_of_line_rows: int
    """Rows of mlp in the large REST predict of the head-of-line measurement."""
    head_of_line_rate: float
    """Small requests per second sent meanwhile."""
    head_of_line_quiet: float
    """Seconds of small requests alone, for the latency without the large one."""
    head_of_line_repeats: int


FULL = Settings(
    duration=6,
    warm_up=2,
    repeats=3,
    connections=1,
    streams=64,
    latency_calls=2000,
    latency_warm_up=200,
    signature_calls=3000,
    sweep=(1, 4, 16),
    sweep_duration=4,
    open_loop_shares=(0.5, 0.8),
    open_loop_duration=6,
    open_loop_repeats=2,
    exact_bursts=3,
    rest_connections=64,
    head_of_line_rows=150_000,
    head_of_line_rate=200,
    head_of_line_quiet=5,
    head_of_line_repeats=2,
)
SMOKE = replace(
    FULL,
    duration=1,
    warm_up=0.5,
    repeats=1,
    latency_calls=100,
    latency_warm_up=20,
    signature_calls=200,
    sweep=(4,),
    sweep_duration=1,
    open_loop_shares=(0.5,),
    open_loop_duration=1,
    open_loop_repeats=1,
    exact_bursts=1,
    head_of_line_rows=8_000,
    head_of_line_quiet=2,
    head_of_line_repeats=1,
)


@dataclass(frozen=True)
class Workload:
    """The prebuilt requests of each protocol ('tfs', 'v2'): serialized for gRPC clients,
    framed in files for h2load."""

    requests: dict[str, dict[int, bytes]]
    request_files: dict[str, dict[int, Path]]
    bodies: dict[str, dict[int, Path]]
    single_rows: dict[str, list[bytes]]
    """One-row requests of each of the 32 reference rows, for the exactness check."""
    missing_model_body: Path


def build_workload(work: Path) -> Workload:
    build = {
        "tfs": lambda x: wire.predict_request_for(MODEL, x).SerializeToString(),
        "v2": lambda x: wire_v2.model_infer_request_for(MODEL, x),
    }
    rows_32 = wire.reference_rows(max(ROWS))
    single_rows = {
        p: [request(rows_32[i : i + 1]) for i in range(len(rows_32))]
        for p, request in build.items()
    }
    requests: dict[str, dict[int, bytes]] = {}
    request_files: dict[str, dict[int, Path]] = {}
    bodies: dict[str, dict[int, Path]] = {}
    for protocol, request in build.items():
        requests[protocol], request_files[protocol], bodies[protocol] = {}, {}, {}
        for rows in ROWS:
            requests[protocol][rows] = request(wire.reference_rows(rows))
            request_files[protocol][rows] = work / f"request-{protocol}-{rows}.bin"
            request_files[protocol][rows].write_bytes(requests[protocol][rows])
            bodies[protocol][rows] = work / f"body-{protocol}-{rows}.grpc"
            bodies[protocol][rows].write_bytes(wire.grpc_frame(requests[protocol][rows]))
    missing = work / "body-missing-model.grpc"
    missing.write_bytes(
        wire.grpc_frame(wire.predict_request("no_such_model", 1).SerializeToString())
    )
    return Workload(requests, request_files, bodies, single_rows, missing)


@dataclass(frozen=True)
class MoreWork:
    """The requests and reference answers of the rows beyond mlp over gRPC."""

    coupled: coupled.CoupledWorkload
    coupled_reference: Reference
    rest: rest_json.RestWorkload
    reference: Reference
    small_request_file: Path
    """A one-row Predict of mlp, serialized: the head-of-line probe's small request."""


def python_json(module: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run `python -m module args` and read the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sequential_latency(server: ServerProcess, work: Workload, settings: Settings) -> dict[str, Any]:
    return python_json(
        "benchmarks.latency_client",
        f"--target={server.target}",
        f"--request={work.request_files[server.spec.protocol][1]}",
        f"--calls={settings.latency_calls}",
        f"--warm-up={settings.latency_warm_up}",
        f"--method={server.spec.method}",
    )


def negative_control(
    server: ServerProcess, work: Workload, ok_body_bytes: int, settings: Settings, log: Path
) -> dict[str, Any]:
    """Predicts for a model that does not exist: h2load sees HTTP 200s, the accounting must not
    count a single one as OK, and blockserve's /metrics must agree."""
    load = h2load.Load(settings.connections, settings.streams, 1.0, 0)
    before = server.predict_codes()
    result = h2load.measure(server.predict_url, work.missing_model_body, ok_body_bytes, load, log)
    not_found = server.predict_codes().get("NOT_FOUND", 0) - before.get("NOT_FOUND", 0)
    log.unlink(missing_ok=True)
    return {
        "server": server.spec.key,
        "completed": result.completed,
        "http_2xx": result.http_2xx,
        "ok": result.ok,
        "not_ok": result.not_ok,
        "server_not_found": not_found,
        # The server may have answered a few more than h2load waited for when it stopped.
        "consistent": result.ok == 0
        and result.http_2xx == result.completed > 0
        and result.completed <= not_found <= result.started,
    }


def best_of(record: dict[str, Any]) -> dict[str, float | None]:
    """Each metric's best over the rounds: noise on a shared machine only makes things slower."""
    latency = [r["latency_ms"] for r in record["latency"]]
    runs = {rows: record["throughput"][str(rows)] for rows in ROWS}
    fastest = {rows: max(runs[rows], key=lambda r: r["ok_per_second"]) for rows in ROWS}
    cpu = [r["server_cpu_ms_per_ok"] for r in runs[1] if r["server_cpu_ms_per_ok"] is not None]
    return {
        "latency_p50_ms": min(lat["p50"] for lat in latency),
        "latency_p99_ms": min(lat["p99"] for lat in latency),
        "ok_per_second_rows_1": fastest[1]["ok_per_second"],
        "load_p50_ms_rows_1": fastest[1]["latency_ms"].get("p50"),
        "load_p99_ms_rows_1": fastest[1]["latency_ms"].get("p99"),
        "ok_per_second_rows_32": fastest[32]["ok_per_second"],
        "rows_per_second_rows_32": fastest[32]["ok_per_second"] * 32,
        "cpu_ms_per_ok_rows_1": min(cpu) if cpu else None,
        "cpu_ms_per_ok_by_process_rows_1": under_load.summarize(runs[1])[
            "cpu_ms_per_ok_by_process"
        ],
        "looped_share_rows_1": under_load.looped_share(fastest[1].get("request_paths", {})),
    }


OPEN_LOOP_PERCENTILES = ("p50", "p99", "p99_9")


def best_open_loop(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the lowest p99 at one arrival rate, and whether the server kept up."""
    best = min(runs, key=lambda r: r["latency_ms"].get("p99", float("inf")))
    return {
        "rate": best["rate"],
        "ok_per_second": best["ok_per_second"],
        "kept_up": best["ok_per_second"] >= KEPT_UP * best["rate"] and best["not_ok"] == 0,
        "not_ok": best["not_ok"],
        # A server that answered nothing in the round has no latencies: None, not absent.
        **{f"{k}_ms": best["latency_ms"].get(k) for k in OPEN_LOOP_PERCENTILES},
        "cpu_ms_per_ok": best["server_cpu_ms_per_ok"],
    }


def server_specs(config: Path, models_dir: Path) -> list[ServerSpec]:
    """blockserve's configurations (default flags, exact batching off, request merging, two
    workers, and default flags driven over V2 as the peers are), the naive server and both
    floors."""
    return [
        servers.blockserve(config, "blockserve_default", "blockserve, default flags"),
        servers.blockserve(
            config,
            "blockserve_exact",
            "blockserve, --enable_exact_batching=true",
            exact_batching=True,
        ),
        servers.blockserve(
            config, "blockserve_batching", "blockserve, --enable_batching=true", batching=True
        ),
        servers.blockserve(
            config,
            "blockserve_no_sampling",
            "blockserve, --activation_sample_rate=0 (live insight off)",
            sampling=False,
        ),
        servers.blockserve(
            config, "blockserve_workers_2", "blockserve, --num_workers=2", workers=2
        ),
        servers.blockserve(
            config, "blockserve_v2", "blockserve, default flags, V2 ModelInfer", protocol="v2"
        ),
        servers.naive(newest_version(models_dir, MODEL)),
        servers.floor("threaded"),
        servers.floor("asyncio"),
    ]


class Lineup:
    """The servers still in the run, and the peers that left it with the reason."""

    def __init__(self, running: list[ServerProcess], skipped: dict[str, str]) -> None:
        self.running = running
        self.skipped = skipped

    def others(self, server: ServerProcess) -> list[ServerProcess]:
        return [o for o in self.running if o is not server]

    def drop(self, server: ServerProcess, reason: str) -> None:
        """A peer that failed: one line saying so, stopped, and the run goes on without it.
        Anything else failing stops the run."""
        if not server.spec.peer:
            raise RuntimeError(f"{server.spec.title}: {reason}")
        reason = " ".join(reason.split())[:300]
        print(f"peer {server.spec.title}: dropped from the run: {reason}", flush=True)
        self.skipped[server.spec.key] = reason
        self.running.remove(server)
        server.stop()

    @contextlib.contextmanager
    def attempt(self, server: ServerProcess) -> Iterator[None]:
        """Run a measurement of `server`; a peer that fails it is dropped (see `drop`)."""
        try:
            yield
        except (RuntimeError, ValueError, h2load.H2loadError, grpc.RpcError) as e:
            if server in self.running:
                self.drop(server, f"{type(e).__name__}: {e}")


def check_answers(
    lineup: Lineup, work: Workload, reference: Reference, settings: Settings
) -> dict[str, dict[str, Any]]:
    """Every server's reference answers: sizes for the byte accounting, the model check (the
    same mlp, or comparing means nothing) and the exactness check."""
    records: dict[str, dict[str, Any]] = {}
    for server in list(lineup.running):
        with lineup.attempt(server):
            sizes, alone = {}, {}
            for rows in ROWS:
                request = work.requests[server.spec.protocol][rows]
                sizes[rows], alone[rows] = reference_answer(server, request, rows)
            exact = None
            if not server.spec.answers_fixed:
                for rows in ROWS:
                    if not same_model(alone[rows], reference.one_call[rows]):
                        raise RuntimeError(
                            f"answers {rows} rows unlike the SavedModel's own call:\n"
                            f"{alone[rows]}\n{reference.one_call[rows]}"
                        )
                exact = exactness(
                    server,
                    work.single_rows[server.spec.protocol],
                    alone,
                    reference,
                    settings.exact_bursts,
                )
            records[server.spec.key] = {
                "title": server.spec.title,
                "family": server.spec.family,
                "protocol": server.spec.protocol,
                "peer": server.spec.peer,
                "workers": server.spec.workers,
                "argv": server.argv,
                "answers_fixed": server.spec.answers_fixed,
                "ok_body_bytes": {str(rows): sizes[rows] for rows in ROWS},
                "exactness": exact,
                "memory_ready": server.memory(),
                "latency": [],
                "throughput": {str(rows): [] for rows in ROWS},
                "sweep": [],
                "open_loop": {str(share): [] for share in settings.open_loop_shares},
            }
    return records


def measure_all(
    lineup: Lineup, work: Workload, reference: Reference, settings: Settings, logs: Path
) -> dict[str, dict[str, Any]]:
    """The answer checks, the rounds, the sweep, the open-loop runs and the memory readings of
    every running server."""
    began = time.monotonic()
    records = check_answers(lineup, work, reference, settings)
    print(f"answers checked in {time.monotonic() - began:.0f} s", flush=True)
    main_load = h2load.Load(
        settings.connections, settings.streams, settings.duration, settings.warm_up
    )

    def run_h2load(server: ServerProcess, rows: int, load: h2load.Load) -> dict[str, Any]:
        return under_load.measure(
            server,
            lineup.others(server),
            work.bodies[server.spec.protocol][rows],
            records[server.spec.key]["ok_body_bytes"][str(rows)],
            load,
            logs / f"h2load-{server.spec.key}.log",
        )

    for round_ in range(settings.repeats):
        # Alternate the order so that a slow minute on the machine does not always hit one server.
        order = list(lineup.running) if round_ % 2 == 0 else lineup.running[::-1]
        for server in order:
            record = records[server.spec.key]
            with lineup.attempt(server):
                latency = sequential_latency(server, work, settings)
                record["latency"].append(
                    latency | {"round": round_, "load_average": os.getloadavg()[0]}
                )
                for rows in ROWS:
                    record["throughput"][str(rows)].append(
                        run_h2load(server, rows, main_load) | {"round": round_}
                    )
                print(
                    f"round {round_ + 1}/{settings.repeats} {server.spec.title}: "
                    f"p50 {latency['latency_ms']['p50']:.3f} ms, "
                    f"{record['throughput']['32'][-1]['ok_per_second']:.0f} req/s at 32 rows, "
                    f"{record['throughput']['1'][-1]['ok_per_second']:.0f} req/s at 1 row",
                    flush=True,
                )
    for key in [k for k in records if k not in {s.spec.key for s in lineup.running}]:
        del records[key]
    for record in records.values():
        record["best"] = best_of(record)
    sweep_load = replace(
        main_load, duration=settings.sweep_duration, warm_up=min(1.0, settings.warm_up)
    )
    for streams in settings.sweep:
        for server in list(lineup.running):
            with lineup.attempt(server):
                measured = run_h2load(server, 1, replace(sweep_load, streams=streams))
                records[server.spec.key]["sweep"].append(measured)
    print(f"rounds and sweep done at {time.monotonic() - began:.0f} s", flush=True)
    capacity = floor_capacity(records)
    open_load = h2load.Load(
        settings.connections,
        OPEN_LOOP_STREAMS,
        settings.open_loop_duration,
        min(1.0, settings.warm_up),
    )
    for round_ in range(settings.open_loop_repeats):
        order = list(lineup.running) if round_ % 2 == 0 else lineup.running[::-1]
        for server in order:
            with lineup.attempt(server):
                for share in settings.open_loop_shares:
                    rate = max(1, round(share * capacity))
                    measured = run_h2load(server, 1, replace(open_load, rate=rate))
                    records[server.spec.key]["open_loop"][str(share)].append(
                        measured | {"round": round_, "share_of_floor": share}
                    )
        print(
            f"open loop round {round_ + 1}/{settings.open_loop_repeats} done at "
            f"{time.monotonic() - began:.0f} s",
            flush=True,
        )
    for key in [k for k in records if k not in {s.spec.key for s in lineup.running}]:
        del records[key]
    for server in lineup.running:
        record = records[server.spec.key]
        fastest = max(record["throughput"]["1"], key=lambda r: r["ok_per_second"])
        record["sweep"].append(fastest)
        record["memory_end"] = server.memory()
        record["peak_rss_bytes"] = server.peak_rss_bytes()
        record["best"]["open_loop"] = {
            share: best_open_loop(runs) for share, runs in record["open_loop"].items()
        }
    return records


def measure_more(
    lineup: Lineup, more: MoreWork, settings: Settings, logs: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rows beyond mlp over gRPC, in interleaved rounds: chimera at 64 streams on blockserve
    with exact batching on and off, and mlp over REST JSON on blockserve with default flags.
    Each is checked first: the size of an OK answer, and exactness under 64 requests at once."""
    by_key = {server.spec.key: server for server in lineup.running}
    load = h2load.Load(settings.connections, settings.streams, settings.duration, settings.warm_up)
    jobs = []
    coupled_records = {}
    for key, label in coupled.SERVERS.items():
        server = by_key[key]
        record = {"title": server.spec.title, "label": label, "model": coupled.MODEL}
        record |= coupled.check(server, more.coupled, more.coupled_reference, settings.exact_bursts)
        record["runs"] = []
        coupled_records[key] = record
        size = record["ok_body_bytes"]
        jobs.append((record["runs"], server, more.coupled.body, size, load, coupled.MODEL))
    server = by_key["blockserve_default"]
    rest = {"server": server.spec.key, "title": server.spec.title, "model": rest_json.MODEL}
    rest |= rest_json.check(server, more.rest, more.reference, settings.exact_bursts)
    rest |= {"connections": settings.rest_connections, "runs": []}
    rest_load = replace(load, connections=settings.rest_connections, streams=1, rest=True)
    size = rest["ok_body_bytes"]
    jobs.append((rest["runs"], server, more.rest.body_file, size, rest_load, rest_json.MODEL))
    for round_ in range(settings.repeats):
        # Alternate the order, as in the main rounds.
        for runs, server, body, size, job_load, model in jobs[:: 1 if round_ % 2 == 0 else -1]:
            log = logs / f"h2load-{server.spec.key}-{model}.log"
            measured = under_load.measure(
                server, lineup.others(server), body, size, job_load, log, model=model
            )
            runs.append(measured | {"round": round_})
        print(
            f"chimera and REST round {round_ + 1}/{settings.repeats}: "
            + ", ".join(
                f"{r['label']} {r['runs'][-1]['ok_per_second']:.0f} req/s"
                for r in coupled_records.values()
            )
            + f"; REST {rest['runs'][-1]['ok_per_second']:.0f} req/s",
            flush=True,
        )
    for record in (*coupled_records.values(), rest):
        record["best"] = under_load.summarize(record["runs"])
    return coupled_records, rest


def floor_capacity(records: dict[str, dict[str, Any]]) -> float:
    """The faster floor's best one-row rate: what the open-loop rates are shares of."""
    rates = [r["best"]["ok_per_second_rows_1"] for r in records.values() if r["family"] == "floor"]
    if not rates:
        raise RuntimeError("no floor server ran: the open-loop rates have nothing to be shares of")
    return max(rates)


def start(specs: list[ServerSpec], work: Workload, logs: Path, skipped: dict[str, str]) -> Lineup:
    """Start every server, then wait for each: loading in parallel saves minutes, and nothing is
    measured until all of them are up. A peer that does not come up is left out, with a line."""
    running = []
    began = time.monotonic()
    try:
        for spec in specs:
            running.append(ServerProcess(spec, logs / f"{spec.key}.log"))
        lineup = Lineup(running, skipped)
        for server in list(running):
            try:
                server.wait_ready(work.requests[server.spec.protocol][1], server.spec.ready_timeout)
            except RuntimeError as e:
                first_line = str(e).splitlines()[0]
                lineup.drop(server, f"did not start: {first_line} (log: {server.log_path})")
    except BaseException:
        servers.stop_all(running)
        raise
    print(f"{len(lineup.running)} servers ready in {time.monotonic() - began:.0f} s", flush=True)
    return lineup


def install_peers(
    mode: str, cache: Path, models_dir: Path, logs: Path
) -> tuple[list[ServerSpec], dict[str, str]]:
    """The specs of the peers that can run, and why the others cannot. `mode` 'install'
    installs missing venvs (both at once, before anything is measured: pip would take CPU from
    the measurements), 'cached' only looks for them, 'none' leaves every peer out."""
    model_dir = newest_version(models_dir, MODEL)
    peers = {
        venvs.MLSERVER: [
            peer_servers.mlserver(cache, model_dir, logs, batching=False),
            peer_servers.mlserver(cache, model_dir, logs, batching=True),
        ],
        venvs.TRITON: [peer_servers.triton(cache, model_dir)],
    }
    if mode == "none":
        return [], {spec.key: "not asked for (--peers=none)" for v in peers.values() for spec in v}
    if mode == "install" and not all(venv.is_installed(cache) for venv in peers):
        print(f"installing the peers' venvs under {cache / 'venvs'}", flush=True)
    usable: list[ServerSpec] = []
    skipped: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=len(peers)) as pool:
        pending = {
            venv: pool.submit(
                venv.ensure, cache, mode == "install", logs / f"install-{venv.name}.log"
            )
            for venv in peers
        }
        for venv, future in pending.items():
            try:
                future.result()
                usable += peers[venv]
            except Exception as e:
                for spec in peers[venv]:
                    print(f"peer {spec.title}: not run: {e}", flush=True)
                    skipped[spec.key] = str(e)
    return usable, skipped


def benchmark(
    settings: Settings, models_dir: Path, out: Path, mode: str, peers: str, cache: Path
) -> dict[str, Any]:
    started = time.time()
    load_start = os.getloadavg()
    print(f"load average at the start: {_load_average(load_start)}", flush=True)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    peer_specs, skipped = install_peers(peers, cache, models_dir, logs)
    work = build_workload(logs)
    config = models_dir / "models.config"
    signature = python_json(
        "benchmarks.signature_call",
        f"--model_dir={newest_version(models_dir, MODEL)}",
        f"--calls={settings.signature_calls}",
    )
    reference = in_process_answers(signature)
    more = MoreWork(
        coupled=coupled.build_workload(logs),
        coupled_reference=in_process_answers(
            python_json(
                "benchmarks.signature_call",
                f"--model_dir={newest_version(models_dir, coupled.MODEL)}",
                "--answers-only",
            )
        ),
        rest=rest_json.build_workload(logs),
        reference=reference,
        small_request_file=work.request_files["tfs"][1],
    )
    baseline = python_json("benchmarks.memory_baseline", f"--model_config_file={config}")
    print(f"in-process reference and memory baseline in {time.time() - started:.0f} s", flush=True)
    lineup = start(server_specs(config, models_dir) + peer_specs, work, logs, skipped)
    try:
        records = measure_all(lineup, work, reference, settings, logs)
        coupled_records, rest = measure_more(lineup, more, settings, logs)
        blocking = head_of_line.measure(
            next(s for s in lineup.running if s.spec.key == "blockserve_default"),
            more.small_request_file,
            settings.head_of_line_rows,
            settings.head_of_line_rate,
            settings.head_of_line_quiet,
            settings.head_of_line_repeats,
        )
        control_server = lineup.running[0]
        control = negative_control(
            control_server,
            work,
            records[control_server.spec.key]["ok_body_bytes"]["1"],
            settings,
            logs / "h2load-negative-control.log",
        )
    finally:
        stopping = time.monotonic()
        servers.stop_all(lineup.running)
        print(f"servers stopped in {time.monotonic() - stopping:.0f} s", flush=True)
    load_end = os.getloadavg()
    print(f"load average at the end: {_load_average(load_end)}", flush=True)
    results: dict[str, Any] = {
        "meta": {
            "mode": mode,
            "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 1),
            "cpu_count": os.cpu_count(),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in load_end],
            "model": MODEL,
            "models_dir": str(models_dir),
            "settings": asdict(settings),
            "open_loop": {
                "shares_of_floor": list(settings.open_loop_shares),
                "floor_capacity": floor_capacity(records),
                "max_streams": OPEN_LOOP_STREAMS,
                "kept_up_share": KEPT_UP,
            },
            "exact_burst": EXACT_BURST,
        },
        "signature_call": signature,
        "memory_baseline": baseline,
        "servers": records,
        "peers_not_run": skipped,
        "negative_control": control,
        "coupled": coupled_records,
        "rest_json": rest,
        "head_of_line": blocking,
    }
    results["floor"] = report.floor(results)
    results["targets"] = report.as_dicts(report.targets(results))
    return results


def _load_average(load: tuple[float, float, float]) -> str:
    return f"{load[0]:.2f} (1 min), {load[1]:.2f} (5 min), {load[2]:.2f} (15 min)"


def write(results: dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report.markdown(results)
    (out / "latest.md").write_text(text)
    report.plot(results, str(out / "latency_throughput.png"))
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="seconds per run, not minutes: for CI")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--models-dir", type=Path, help="reuse an export (with models.config)")
    p.add_argument("--duration", type=float, help="seconds of each h2load run")
    p.add_argument("--repeats", type=int, help="interleaved rounds")
    p.add_argument(
        "--peers",
        choices=("install", "cached", "none"),
        help="MLServer and Triton: install their venvs when missing (default), use only "
        "cached venvs (default with --smoke), or leave them out",
    )
    p.add_argument(
        "--peer-cache",
        type=Path,
        default=venvs.DEFAULT_CACHE,
        help=f"where the peers' venvs live (default {venvs.DEFAULT_CACHE})",
    )
    args = p.parse_args(argv)
    settings = SMOKE if args.smoke else FULL
    if args.duration:
        settings = replace(settings, duration=args.duration)
    if args.repeats:
        settings = replace(settings, repeats=args.repeats)
    mode = "smoke" if args.smoke else "full"
    peers = args.peers or ("cached" if args.smoke else "install")
    with exported.models_dir(args.models_dir) as models:
        results = benchmark(settings, models, args.out, mode, peers, args.peer_cache)
    print(write(results, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

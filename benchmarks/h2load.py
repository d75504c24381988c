"""gRPC Predict load from h2load, counting only the answers that carried gRPC status OK.

h2load counts every HTTP 200 as a success, but gRPC sends its errors as HTTP 200 too, with the
status in a trailer that h2load never reads. What h2load does report exactly is the number of
response body bytes. A gRPC error never carries a body (it is a trailers-only response), while
every OK answer to one fixed request is the same length-prefixed message of B bytes, B taken
from a reference call made before the run. So OK answers = body bytes // B, capped by the number
of HTTP 200s; every other completed request carried an error status.

Warm-up runs as a separate h2load process, because h2load's own `--warm-up-time` counts warm-up
bytes in its totals but not warm-up requests, which would break that arithmetic.
"""

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

H2LOAD = "/usr/bin/h2load"
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")
REST_HEADERS = ("content-type: application/json",)

_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s),")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx")
_TRAFFIC = re.compile(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data")
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


class H2loadError(Exception):
    """h2load failed or printed something this module cannot read."""


@dataclass(frozen=True)
class Load:
    """How h2load drives one run."""

    connections: int
    streams: int
    """Concurrent streams per connection."""
    duration: float
    warm_up: float
    rate: int = 0
    """Requests per second per connection (open loop: h2load's --rps, started on schedule
    while fewer than `streams` are in flight); 0 sends as fast as answers come back."""
    rest: bool = False
    """REST JSON over HTTP/1.1 (h2load --h1, one request in flight per connection) rather than
    gRPC over HTTP/2: an answer's HTTP status is then its status."""


@dataclass(frozen=True)
class LoadResult:
    """One h2load run, with gRPC OK answers told apart from errors."""

    connections: int
    streams: int
    seconds: float
    started: int
    completed: int
    http_2xx: int
    body_bytes: int
    ok_body_bytes: int
    ok: int
    not_ok: int
    ok_per_second: float
    latency_ms: dict[str, float]
    """Per-request time under this load, from h2load's log (all completed requests)."""


def command(url: str, body: Path, load: Load, duration: float, log: Path | None) -> list[str]:
    args = [H2LOAD, f"--clients={load.connections}", f"--max-concurrent-streams={load.streams}"]
    args += [f"--duration={round(duration * 1000)}ms", f"--data={body}"]
    args += [f"--header={h}" for h in (REST_HEADERS if load.rest else GRPC_HEADERS)]
    if load.rest:
        args.append("--h1")
    if load.rate:
        args.append(f"--rps={load.rate}")
    if log is not None:
        args.append(f"--log-file={log}")
    return [*args, url]


def _match(pattern: re.Pattern[str], text: str) -> re.Match[str]:
    found = pattern.search(text)
    if found is None:
        raise H2loadError(f"h2load output has no line matching {pattern.pattern!r}:\n{text}")
    return found


def log_latencies(log: Path | None) -> dict[str, float]:
    """p50/p90/p99/p99.9 in ms of the requests h2load logged (start, status, microseconds)."""
    if log is None or not log.exists():
        return {}
    rows = [line.split("\t") for line in log.read_text().splitlines() if line]
    micros = np.array([int(r[2]) for r in rows if len(r) >= 3], dtype=np.float64)
    if not micros.size:
        return {}
    names = ("p50", "p90", "p99", "p99_9")
    found = np.percentile(micros / 1000, [50, 90, 99, 99.9])
    return {name: round(float(v), 3) for name, v in zip(names, found, strict=True)}


def result(load: Load, output: str, ok_body_bytes: int, log: Path | None) -> LoadResult:
    """Read h2load's summary; `ok_body_bytes` is the size of one OK answer's body (for REST,
    whose errors are not 200s, the 200s are the OK answers and the bytes only a check)."""
    finished = _match(_FINISHED, output)
    seconds = float(finished[1]) * _SECONDS[finished[2]]
    requests = _match(_REQUESTS, output)
    started, completed = int(requests[2]), int(requests[3])
    http_2xx = int(_match(_STATUS, output)[1])
    body_bytes = int(_match(_TRAFFIC, output)[3])
    # Capped: a response still open when h2load stops may have its body counted, not itself.
    ok = http_2xx if load.rest else min(http_2xx, body_bytes // ok_body_bytes)
    return LoadResult(
        connections=load.connections,
        streams=load.streams,
        seconds=seconds,
        started=started,
        completed=completed,
        http_2xx=http_2xx,
        body_bytes=body_bytes,
        ok_body_bytes=ok_body_bytes,
        ok=ok,
        not_ok=completed - ok,
        ok_per_second=round(ok / seconds, 1) if seconds else 0.0,
        latency_ms=log_latencies(log),
    )


class Run:
    """h2load running in the background for `duration` seconds."""

    def __init__(
        self, url: str, body: Path, load: Load, duration: float, log: Path | None = None
    ) -> None:
        self.load = load
        self.log = log
        self.timeout = 60 + 2 * duration
        self.args = command(url, body, load, duration, log)
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def output(self) -> str:
        """Wait for h2load to end; its summary."""
        try:
            stdout, stderr = self.process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise H2loadError(f"{' '.join(self.args)} did not end within {self.timeout}s") from None
        if self.process.returncode != 0:
            raise H2loadError(
                f"{' '.join(self.args)} exited {self.process.returncode}: {stderr[-2000:]}"
            )
        return stdout

    def result(self, ok_body_bytes: int) -> LoadResult:
        return result(self.load, self.output(), ok_body_bytes, self.log)


def warm_up(url: str, body: Path, load: Load) -> None:
    """Load the server for `load.warm_up` seconds, results discarded."""
    if load.warm_up > 0:
        Run(url, body, load, load.warm_up).output()


def measure(url: str, body: Path, ok_body_bytes: int, load: Load, log: Path) -> LoadResult:
    """Load the server for `load.duration` seconds and count what came back."""
    return Run(url, body, load, load.duration, log).result(ok_body_bytes)

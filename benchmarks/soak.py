"""The soak: blockserve under steady load for minutes, its resident memory sampled throughout.

    python -m benchmarks.soak [--minutes 10] [--smoke] [--out DIR] [--models-dir DIR]

Starts blockserve on every seed model with default flags, then runs two h2load processes for the
whole duration: one-row Predicts of mlp on 16 concurrent streams, and a trickle of Predicts for a
model that does not exist (the error path must not leak either). RSS (the whole process tree:
front and TensorFlow workers) is sampled every few seconds; growth is measured from the end of
the warm-up (the first two minutes, or a fifth of a shorter run) to the end, each end the median
of its last few samples. Target: under 5%.

Writes OUT/soak.json, OUT/soak.md and OUT/soak_rss.png (OUT defaults to benchmarks/results).
"""

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import exported, h2load, servers, wire
from benchmarks.servers import ServerProcess, ServerSpec

GROWTH_LIMIT_PERCENT = 5.0
WINDOW = 3
"""Samples whose median stands for the RSS at either end of the measured span."""
MIB = 1 << 20


@dataclass(frozen=True)
class Settings:
    seconds: float
    warm_up: float
    interval: float
    streams: int
    error_rate: int


def settings_for(minutes: float, smoke: bool) -> Settings:
    if smoke:
        return Settings(seconds=20, warm_up=5, interval=1, streams=16, error_rate=20)
    seconds = minutes * 60
    return Settings(seconds, min(120, seconds / 5), interval=5, streams=16, error_rate=20)


def blockserve(config: Path) -> ServerSpec:
    """blockserve as users start it: every model, default flags."""
    return servers.blockserve(config, key="blockserve", title="blockserve")


def growth(samples: list[dict[str, float]], warm_up: float) -> dict[str, float]:
    """RSS growth after the warm-up: percent between the ends and the fitted slope."""
    after = [s for s in samples if s["t"] >= warm_up]
    if len(after) < 2 * WINDOW:
        raise RuntimeError(f"only {len(after)} samples after the warm-up; run longer")
    start = statistics.median(s["rss_bytes"] for s in after[:WINDOW])
    end = statistics.median(s["rss_bytes"] for s in after[-WINDOW:])
    t = np.array([s["t"] for s in after])
    rss = np.array([s["rss_bytes"] for s in after])
    slope = float(np.polyfit(t / 60, rss / MIB, 1)[0])
    return {
        "rss_after_warm_up_bytes": start,
        "rss_end_bytes": end,
        "rss_max_bytes": float(rss.max()),
        "growth_percent": round(100 * (end - start) / start, 3),
        "slope_mib_per_minute": round(slope, 4),
    }


def soak(settings: Settings, models: Path, out: Path) -> dict[str, Any]:
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    good = wire.predict_request("mlp", 1).SerializeToString()
    bodies = {"predict": logs / "soak-body-predict.grpc", "errors": logs / "soak-body-errors.grpc"}
    bodies["predict"].write_bytes(wire.grpc_frame(good))
    missing = wire.predict_request("no_such_model", 1).SerializeToString()
    bodies["errors"].write_bytes(wire.grpc_frame(missing))
    server = ServerProcess(blockserve(models / "models.config"), logs / "soak-blockserve.log")
    started = time.time()
    try:
        server.wait_ready(good, 180)
        ok_body_bytes = len(wire.grpc_frame(server.predict(good)))
        loads = {
            "predict": h2load.Load(1, settings.streams, settings.seconds, 0),
            "errors": h2load.Load(1, 1, settings.seconds, 0, rate=settings.error_rate),
        }
        codes_before = server.predict_codes()
        runs = {
            name: h2load.Run(server.predict_url, bodies[name], load, settings.seconds)
            for name, load in loads.items()
        }
        samples = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < settings.seconds:
            samples.append(
                {
                    "t": round(time.monotonic() - t0, 2),
                    # The whole process tree: a leak in a TensorFlow worker counts too.
                    "rss_bytes": server.memory()["tree_bytes"],
                    "front_rss_bytes": server.rss_bytes(),
                    "cpu_seconds": round(server.cpu_seconds(), 2),
                    "load_average": os.getloadavg()[0],
                }
            )
            time.sleep(settings.interval)
        results = {name: asdict(run.result(ok_body_bytes)) for name, run in runs.items()}
        after = server.predict_codes()
        codes = {c: after.get(c, 0) - codes_before.get(c, 0) for c in after}
        still_answers = len(wire.grpc_frame(server.predict(good))) == ok_body_bytes
    finally:
        exit_code = server.stop()
    found = growth(samples, settings.warm_up)
    return {
        "meta": {
            "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(),
            "argv": server.argv,
            "settings": asdict(settings),
        },
        "load": results,
        "server_codes": {c: n for c, n in codes.items() if n},
        "samples": samples,
        **found,
        "growth_limit_percent": GROWTH_LIMIT_PERCENT,
        "passed": found["growth_percent"] < GROWTH_LIMIT_PERCENT,
        "answers_after_soak": still_answers,
        "exit_code_after_sigterm": exit_code,
    }


def markdown(results: dict[str, Any]) -> str:
    settings = results["meta"]["settings"]
    predict, errors = results["load"]["predict"], results["load"]["errors"]
    verdict = "pass" if results["passed"] else "**FAIL**"
    return "\n".join(
        [
            f"## blockserve soak ({results['meta']['finished']})",
            "",
            f"{settings['seconds']:.0f} s of load, warm-up {settings['warm_up']:.0f} s, RSS every "
            f"{settings['interval']:.0f} s. Load: {predict['ok']:,} OK one-row Predicts of mlp "
            f"({predict['ok_per_second']:,.0f}/s on {predict['streams']} streams, "
            f"{predict['not_ok']} not OK) and {errors['completed']:,} Predicts of a missing "
            f"model. Server codes: {results['server_codes']}.",
            "",
            "| RSS after warm-up MiB | RSS at end MiB | max MiB | growth | slope MiB/min "
            "| target | |",
            "| ---: | ---: | ---: | ---: | ---: | --- | --- |",
            f"| {results['rss_after_warm_up_bytes'] / MIB:,.1f} "
            f"| {results['rss_end_bytes'] / MIB:,.1f} | {results['rss_max_bytes'] / MIB:,.1f} "
            f"| {results['growth_percent']:.2f}% | {results['slope_mib_per_minute']:.3f} "
            f"| < {results['growth_limit_percent']:.0f}% | {verdict} |",
            "",
            f"Still answering after the soak: {results['answers_after_soak']}; exit status after "
            f"SIGTERM: {results['exit_code_after_sigterm']}.",
            "",
        ]
    )


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = results["samples"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([s["t"] for s in samples], [s["rss_bytes"] / MIB for s in samples], marker=".")
    ax.axvspan(0, results["meta"]["settings"]["warm_up"], alpha=0.15, label="warm-up")
    ax.set_xlabel("seconds under load")
    ax.set_ylabel("blockserve RSS (MiB)")
    ax.set_title(f"soak: growth after warm-up {results['growth_percent']:.2f}%")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.split("\n")[0]
    )
    p.add_argument("--minutes", type=float, default=10, help="minutes of load (default 10)")
    p.add_argument("--smoke", action="store_true", help="20 seconds, for CI")
    p.add_argument("--out", type=Path, default=servers.ROOT / "benchmarks" / "results")
    p.add_argument("--models-dir", type=Path, help="reuse an export (with models.config)")
    args = p.parse_args(argv)
    settings = settings_for(args.minutes, args.smoke)
    with exported.models_dir(args.models_dir) as models:
        results = soak(settings, models, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / "soak.md").write_text(text)
    plot(results, args.out / "soak_rss.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

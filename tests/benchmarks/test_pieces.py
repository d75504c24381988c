"""The benchmark's parts that need no server: V2 messages, peer venv markers, the report's rules.

Fast, so CI checks them on every run; the smoke run (`test_smoke.py`) checks the whole.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks import h2load, head_of_line, report, under_load, wire, wire_v2
from benchmarks.answers import summary
from benchmarks.h2load import log_latencies
from benchmarks.peers.venvs import PeerUnavailable, PeerVenv


def test_model_infer_request_carries_the_reference_rows_as_raw_float32() -> None:
    request = wire_v2.ModelInferRequest.FromString(wire_v2.model_infer_request("mlp", 32))
    assert request.model_name == "mlp"
    assert [(t.name, t.datatype, list(t.shape)) for t in request.inputs] == [
        ("x", "FP32", [32, 20])
    ]
    x = np.frombuffer(request.raw_input_contents[0], dtype="<f4").reshape(32, 20)
    assert np.array_equal(x, wire.reference_rows(32))


def test_model_infer_answer_is_read_from_raw_or_typed_contents() -> None:
    y = np.arange(20, dtype=np.float32).reshape(2, 10)
    raw = wire_v2.ModelInferResponse(raw_output_contents=[y.tobytes()])
    raw.outputs.add(name="y", datatype="FP32", shape=[2, 10])
    typed = wire_v2.ModelInferResponse()
    typed.outputs.add(name="y", datatype="FP32", shape=[2, 10]).contents.fp32_contents.extend(
        y.ravel().tolist()
    )
    for response in (raw, typed):
        assert np.array_equal(wire_v2.output_array(response.SerializeToString()), y)
    with pytest.raises(ValueError, match="no output 'z'"):
        wire_v2.output_array(raw.SerializeToString(), name="z")


def test_peer_venv_is_not_installed_when_installing_is_off(tmp_path: Path) -> None:
    venv = PeerVenv("nothing", ("no-such-package==0",))
    assert not venv.is_installed(tmp_path)
    with pytest.raises(PeerUnavailable, match="no cached venv"):
        venv.ensure(tmp_path, install=False, log=tmp_path / "install.log")


def test_peer_venv_counts_as_installed_only_for_the_same_requirements(tmp_path: Path) -> None:
    venv = PeerVenv("peer", ("a==1", "b<2"))
    venv.path(tmp_path).mkdir(parents=True)
    (venv.path(tmp_path) / ".installed").write_text("a==1\nb<2\n")
    assert venv.is_installed(tmp_path)
    assert not PeerVenv("peer", ("a==2", "b<2")).is_installed(tmp_path)


def test_open_loop_latencies_include_p99_9(tmp_path: Path) -> None:
    log = tmp_path / "h2load.log"
    log.write_text("".join(f"{i}\t200\t{1000 * (i + 1)}\n" for i in range(1000)))
    found = log_latencies(log)
    assert set(found) == {"p50", "p90", "p99", "p99_9"}
    assert found["p50"] < found["p99"] < found["p99_9"] <= 1000


def memory(main_mib: int, *children_mib: int) -> dict[str, object]:
    mib = report.MIB
    return {
        "main_bytes": main_mib * mib,
        "children_bytes": [c * mib for c in children_mib],
        "tree_bytes": (main_mib + sum(children_mib)) * mib,
    }


def test_a_split_server_has_a_front_and_its_largest_children_as_workers() -> None:
    split = {"memory_ready": memory(70, 612, 600, 12), "workers": 2}
    assert report.processes(split) == (70 * report.MIB, [612 * report.MIB, 600 * report.MIB])
    # One process doing everything (its only child a small helper) is front and worker at once.
    single = {"memory_ready": memory(650, 12), "workers": 1}
    assert report.processes(single) == (650 * report.MIB, [650 * report.MIB])


def test_a_target_needing_a_peer_that_did_not_run_is_not_run() -> None:
    assert report._target("x", "vs Triton", None, ">= 1").passed is None
    assert report._target("x", "front RSS", 71.4, "<= 100").passed is True
    assert report._target("x", "ratio", 0.33, ">= 0.8").passed is False


def test_rest_load_is_http1_json_and_counts_its_200s_as_ok() -> None:
    load = h2load.Load(64, 1, 6, 2, rest=True)
    args = h2load.command("http://h/v1/models/mlp:predict", Path("b.json"), load, 6, None)
    assert "--h1" in args and "--header=content-type: application/json" in args
    assert not any("grpc" in a for a in args)
    output = (
        "finished in 2.00s, 10 req/s\n"
        "requests: 20 total, 20 started, 20 done, 18 succeeded, 2 failed, 0 errored, 0 timeout\n"
        "status codes: 18 2xx, 0 3xx, 2 4xx, 0 5xx\n"
        "traffic: 5KB (5000) total, 1KB (1000) headers (space savings 0%), 4KB (4000) data\n"
    )
    # 4xx bodies are bytes too: over REST only the 200s count, whatever the bytes say.
    assert h2load.result(load, output, 221, None).ok == 18
    assert h2load.result(replace(load, rest=False), output, 100, None).ok == 18
    assert h2load.result(replace(load, rest=False), output, 1000, None).ok == 4


def run(ok_per_second: float, front: float, workers: float, paths: dict) -> dict:
    return {
        "ok_per_second": ok_per_second,
        "latency_ms": {"p50": 1.0, "p99": 2.0},
        "server_cpu_ms_per_ok": front + workers,
        "server_cpu_ms_per_ok_by_process": {"front": front, "workers": workers},
        "request_paths": paths,
        "not_ok": 0,
    }


def test_summary_of_rounds_takes_the_fastest_rate_and_the_least_cpu_by_process() -> None:
    best = under_load.summarize(
        [run(100, 0.3, 0.2, {"single": 10}), run(200, 0.4, 0.1, {"single": 1, "looped": 3})]
    )
    assert best["ok_per_second"] == 200
    assert best["cpu_ms_per_ok_by_process"] == {"front": 0.3, "workers": 0.1}
    assert best["looped_share"] == 0.75
    assert under_load.looped_share({}) is None


def test_exact_batching_targets_compare_chimera_with_exact_batching_off() -> None:
    def record(rate: float, workers: float) -> dict:
        return {
            "exactness": {"equal_share": 1.0},
            "best": under_load.summarize([run(rate, 0.3, workers, {"looped": 1})]),
        }

    results = {
        "coupled": {
            "blockserve_exact": record(2200, 0.03),
            "blockserve_default": record(2000, 0.1),
        },
        "head_of_line": {
            "best": {"large": {"request_bytes": 61e6}, "during_large": {"p99_ms": 12.0}}
        },
    }
    found = {t.target: t for t in report._batching_targets(results)}
    assert len(found) == 4
    rate, cpu, exact, blocking = found.values()
    assert (rate.measured, rate.passed) == (1.1, True)
    assert (cpu.measured, cpu.passed) == (0.3, True)
    assert exact.passed and blocking.passed and "61 MB" in blocking.target


def test_answers_compare_a_coupled_scalar_with_its_rows_own_call() -> None:
    same, other = np.float32([0.5]), np.float32([0.25])
    found = summary({"1": (same, same)}, [(same, same), (other, same), (same.reshape(()), same)])
    assert found["alone"] == {"1": True}
    assert (found["concurrent_calls"], found["concurrent_differing"]) == (3, 2)
    assert found["exact"] is False


def test_head_of_line_counts_only_the_calls_sent_while_the_large_one_was_in_flight() -> None:
    calls = [[t, 10.0 * t, "OK"] for t in range(10)] + [[5.5, 1.0, "UNAVAILABLE"]]
    during = head_of_line.latencies(calls, since=4, until=6)
    assert during["calls"] == 4 and during["codes"] == {"OK": 3, "UNAVAILABLE": 1}
    assert during["max_ms"] == 60.0
    assert head_of_line.latencies(calls, since=20)["p99_ms"] is None


def test_live_insight_sampling_is_compared_with_sampling_off_in_the_same_run() -> None:
    def server(rate: float) -> dict:
        return {"best": {"ok_per_second_rows_1": rate}}

    results = {
        "servers": {"blockserve_default": server(2910), "blockserve_no_sampling": server(3000)}
    }
    (target,) = report._sampling_targets(results)
    assert target.server == "blockserve_default"
    assert (target.measured, target.passed) == (0.97, True)
    results["servers"]["blockserve_default"] = server(2880)
    assert report._sampling_targets(results)[0].passed is False
    assert report._sampling_targets({"servers": {}}) == []

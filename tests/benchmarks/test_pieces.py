"""The benchmark's parts that need no server: V2 messages, peer venv markers, the report's rules.

Fast, so CI checks them on every run; the smoke run (`test_smoke.py`) checks the whole.
"""

from pathlib import Path

import numpy as np
import pytest

from benchmarks import report, wire, wire_v2
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

"""Exact batching's load-time check: a signature whose looped call gives each sample request its
single call's bits is looped; one where it cannot (a random op, a counter) is refused, and the
requests that wait together for it are each a call of their own."""

from pathlib import Path

import numpy as np
import pytest

from service.worker.execution import LOOPED, SINGLE
from tests.workers.road import Road, Served, load, rows
from tests.workers.savedmodels import write_unloopable

SEED_MODELS = ("mlp", "fixed_hidden_mlp", "chimera", "nest_mlp", "param_net")


@pytest.fixture(scope="module")
def unloopable(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Served]:
    folders = write_unloopable(tmp_path_factory.mktemp("unloopable"))
    return {name: load(name, folder) for name, folder in folders.items()}


@pytest.mark.parametrize("name", SEED_MODELS)
def test_a_signature_whose_looped_call_is_exact_is_accepted(exported: Path, name: str) -> None:
    served = load(name, exported / name / "1")
    assert served.refused == {}
    assert set(served.looped) == {"serving_default"}
    road = Road([served])
    xs = [rows(served.features, 2, seed=i) for i in range(8)]
    replies = road.execute([road.predict(name, x) for x in xs])
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_array_equal(reply.y(), served.own_call(x))
        assert reply.path == LOOPED


@pytest.mark.parametrize("name", ["noisy", "counting"])
def test_a_signature_whose_looped_call_differs_is_refused(
    unloopable: dict[str, Served], name: str
) -> None:
    served = unloopable[name]
    assert served.looped == {}
    assert "differs from its own call" in served.refused["serving_default"]


@pytest.mark.parametrize("name", ["noisy", "counting"])
def test_requests_for_a_refused_signature_are_each_a_call_of_their_own(
    unloopable: dict[str, Served], name: str
) -> None:
    road = Road(unloopable.values())
    xs = [rows(4, 3, seed=i) for i in range(16)]
    replies = road.execute([road.predict(name, x) for x in xs])
    assert [r.path for r in replies] == [SINGLE] * 16
    assert road.single_rows == [3] * 16
    assert road.stacked_shapes == []
    for x, reply in zip(xs, replies, strict=True):
        assert reply.y().shape == x.shape
        assert np.all(reply.y() >= x)


def test_each_request_of_a_refused_counter_sees_a_call_of_its_own(
    unloopable: dict[str, Served],
) -> None:
    """Sixteen single calls: sixteen consecutive counts, one per request, in the order sent."""
    road = Road(unloopable.values())
    xs = [np.zeros((2, 4), np.float32) for _ in range(16)]
    replies = road.execute([road.predict("counting", x) for x in xs])
    counts = [float(r.y()[0, 0]) for r in replies]
    assert counts == [counts[0] + i for i in range(16)]
    for reply, count in zip(replies, counts, strict=True):
        assert np.all(reply.y() == count)

"""The worker's Executor on real SavedModels and real request bytes: which road each group of
waiting requests takes (single, looped, merged), and that every answer is the model's own call
on the same rows: bit for bit on the single and looped roads, within the last bits when rows
were merged under --enable_batching.
"""

import time
from pathlib import Path

import numpy as np
import pytest

from service.shared import channel
from service.shared.batching import BatchingParameters
from service.shared.settings import ServingSettings
from service.worker.execution import LOOPED, MERGED, SINGLE
from tests.workers.road import Road, Served, load, rows

SEED_MODELS = ("mlp", "fixed_hidden_mlp", "chimera", "nest_mlp", "param_net")
INDEPENDENT = ("mlp", "nest_mlp", "param_net")
COUPLED = ("fixed_hidden_mlp", "chimera")
"""Their export says one call's rows are reduced together (facts.rows_coupled)."""
GROUPS = (1, 2, 16, 64)
MERGED_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
"""A merged row may differ from its own call in the last bits: TensorFlow's CPU kernels block
a matrix product by the number of rows in the call (README, "Exact answers and batching")."""
ALLOWED_BATCH_SIZES = (8, 16, 32, 64)
MERGING = ServingSettings(
    exact_batching=True,
    merge_rows=True,
    batching=BatchingParameters(max_batch_size=64, allowed_batch_sizes=ALLOWED_BATCH_SIZES),
)


@pytest.fixture(scope="module")
def served(exported: Path) -> dict[str, Served]:
    return {name: load(name, exported / name / "1") for name in SEED_MODELS}


def requests(model: Served, count: int, row_counts: tuple[int, ...] = (3,)) -> list[np.ndarray]:
    return [rows(model.features, row_counts[i % len(row_counts)], seed=i) for i in range(count)]


@pytest.mark.parametrize("waiting", GROUPS)
@pytest.mark.parametrize("name", SEED_MODELS)
def test_each_answer_is_the_models_own_call_bit_for_bit(
    served: dict[str, Served], name: str, waiting: int
) -> None:
    model = served[name]
    road = Road(served.values())
    xs = requests(model, waiting)
    replies = road.execute([road.predict(name, x) for x in xs])
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_array_equal(reply.y(), model.own_call(x))
        assert reply.header[:3] == (name, "1", "serving_default")
        assert reply.rows == len(x)
    expected = LOOPED if waiting >= road.settings.exact_batching_min_requests else SINGLE
    assert {r.path for r in replies} == {expected}


def test_a_looped_call_stacks_at_most_max_requests(served: dict[str, Served]) -> None:
    settings = ServingSettings(exact_batching=True, exact_batching_max_requests=16)
    road = Road(served.values(), settings)
    xs = requests(served["mlp"], 40)
    replies = road.execute([road.predict("mlp", x) for x in xs])
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_array_equal(reply.y(), served["mlp"].own_call(x))
    assert [s[0] for s in road.stacked_shapes] == [16, 16, 8]
    assert {r.path for r in replies} == {LOOPED}


def test_without_exact_batching_every_request_is_a_call_of_its_own(
    served: dict[str, Served],
) -> None:
    road = Road(served.values(), ServingSettings(exact_batching=False))
    xs = requests(served["chimera"], 16)
    replies = road.execute([road.predict("chimera", x) for x in xs])
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_array_equal(reply.y(), served["chimera"].own_call(x))
    assert {r.path for r in replies} == {SINGLE}
    assert road.stacked_shapes == []
    assert road.single_rows == [3] * 16


def test_requests_of_different_shapes_are_never_stacked_together(
    served: dict[str, Served],
) -> None:
    road = Road(served.values())
    xs = requests(served["mlp"], 12, row_counts=(1, 2, 3))
    replies = road.execute([road.predict("mlp", x) for x in xs])
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_array_equal(reply.y(), served["mlp"].own_call(x))
    assert {r.path for r in replies} == {LOOPED}
    assert sorted(road.stacked_shapes) == [(4, 1, 20), (4, 2, 20), (4, 3, 20)]


def test_requests_for_different_models_are_never_stacked_together(
    served: dict[str, Served],
) -> None:
    road = Road(served.values())
    messages, expected = [], []
    for i in range(8):
        for name in ("mlp", "nest_mlp"):
            x = rows(20, 2, seed=i)
            messages.append(road.predict(name, x))
            expected.append(served[name].own_call(x))
    replies = road.execute(messages)
    for reply, own in zip(replies, expected, strict=True):
        np.testing.assert_array_equal(reply.y(), own)
    assert sorted(road.stacked_shapes) == [(8, 2, 20), (8, 2, 20)]


# -- --enable_batching: row merging -----------------------------------------------------------


@pytest.mark.parametrize("name", INDEPENDENT)
def test_independent_models_have_rows_merged_and_padding_stripped(
    served: dict[str, Served], name: str
) -> None:
    model = served[name]
    road = Road(served.values(), MERGING)
    xs = requests(model, 16, row_counts=(1, 2, 3))  # 31 rows: one call, padded to 32
    replies = road.execute([road.predict(name, x) for x in xs])
    assert road.single_rows == [32]
    for x, reply in zip(xs, replies, strict=True):
        own = model.own_call(x)
        assert reply.y().shape == own.shape, "the padding rows came back"
        np.testing.assert_allclose(reply.y(), own, **MERGED_TOLERANCE)
        assert reply.path == MERGED
        assert reply.rows == 31


def test_merged_calls_hold_at_most_max_batch_size_rows(served: dict[str, Served]) -> None:
    road = Road(served.values(), MERGING)
    xs = requests(served["mlp"], 48, row_counts=(3,))  # 144 rows: 21 + 21 + 6 requests
    replies = road.execute([road.predict("mlp", x) for x in xs])
    assert road.single_rows == [64, 64, 32]  # 63, 63 and 18 rows, padded
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_allclose(reply.y(), served["mlp"].own_call(x), **MERGED_TOLERANCE)
    assert {r.path for r in replies} == {MERGED}


@pytest.mark.parametrize("name", COUPLED)
def test_coupled_models_are_never_merged_and_stay_exact(
    served: dict[str, Served], name: str
) -> None:
    model = served[name]
    assert model.model.facts.rows_coupled is True
    road = Road(served.values(), MERGING)
    xs = requests(model, 16)
    replies = road.execute([road.predict(name, x) for x in xs])
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_array_equal(reply.y(), model.own_call(x))
    assert {r.path for r in replies} == {LOOPED}
    assert all(rows == 3 for rows in road.single_rows)


@pytest.mark.parametrize("name", COUPLED)
def test_coupled_requests_of_different_rows_are_answered_exactly_when_merging_is_on(
    served: dict[str, Served], name: str
) -> None:
    """Merging groups requests by their inner dimensions only; a coupled model's group then
    goes to the looped road, which must still stack only requests of one shape."""
    model = served[name]
    road = Road(served.values(), MERGING)
    xs = requests(model, 8, row_counts=(1, 2))
    replies = road.execute([road.predict(name, x) for x in xs])
    for x, reply in zip(xs, replies, strict=True):
        np.testing.assert_array_equal(reply.y(), model.own_call(x))
    assert MERGED not in {r.path for r in replies}


# -- failures in a batch ----------------------------------------------------------------------


def test_an_expired_deadline_is_refused_and_the_others_answered(
    served: dict[str, Served],
) -> None:
    road = Road(served.values())
    xs = requests(served["mlp"], 4)
    messages = [road.predict("mlp", x) for x in xs]
    messages[1] = road.predict("mlp", xs[1], deadline=time.monotonic() - 1)
    replies = road.execute(messages)
    assert replies[1].code == "DEADLINE_EXCEEDED"
    assert replies[1].header[0] == "mlp"
    for i in (0, 2, 3):
        np.testing.assert_array_equal(replies[i].y(), served["mlp"].own_call(xs[i]))
        assert replies[i].path == LOOPED


def test_an_unknown_model_is_left_to_the_front_to_explain(served: dict[str, Served]) -> None:
    road = Road(served.values())
    x = rows(20, 2, seed=0)
    replies = road.execute([road.predict("no_such_model", x), road.predict("mlp", x)])
    unknown, known = replies
    assert unknown.code == channel.UNRESOLVED
    assert unknown.extra == ("no_such_model", None, None)
    assert unknown.header[0] == "__unknown__"
    assert unknown.path == ""
    np.testing.assert_array_equal(known.y(), served["mlp"].own_call(x))


def test_a_malformed_message_is_invalid_and_the_others_in_its_batch_answered(
    served: dict[str, Served],
) -> None:
    road = Road(served.values())
    xs = requests(served["mlp"], 3)
    messages = [road.predict("mlp", x) for x in xs]
    messages.insert(1, road.message(b"\x0a\xff\xff\xff\x0f not a PredictRequest"))
    replies = road.execute(messages)
    assert replies[1].code == "INVALID_ARGUMENT"
    assert "does not parse" in replies[1].body
    for x, reply in zip(xs, replies[:1] + replies[2:], strict=True):
        np.testing.assert_array_equal(reply.y(), served["mlp"].own_call(x))
        assert reply.path == LOOPED


def test_a_request_the_graph_refuses_fails_alone_and_its_group_is_answered(
    served: dict[str, Served],
) -> None:
    """Inputs of the declared rank and dtype but the wrong width pass the checks and reach
    TensorFlow: the looped call fails, so each request runs alone for its own answer."""
    road = Road(served.values())
    good = requests(served["mlp"], 3)
    messages = [road.predict("mlp", x) for x in good]
    wide = [rows(21, 3, seed=i) for i in range(2)]
    messages += [road.predict("mlp", x) for x in wide]
    replies = road.execute(messages)
    for x, reply in zip(good, replies[:3], strict=True):
        np.testing.assert_array_equal(reply.y(), served["mlp"].own_call(x))
    for reply in replies[3:]:
        assert reply.code == "INVALID_ARGUMENT", reply.body
        assert "'x'" in reply.body

"""Activation statistics from sampled requests equal those computed by hand with the Keras
layers in-process, for the seed models; TF1 and TF Lite models get layer statistics too."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models.catalog import build
from service.insight.merge import merge_activation_summaries
from service.insight.monitor import VersionInsight
from service.insight.settings import InsightSettings
from service.protos.blockserve.v1 import inspection_pb2

EVERYTHING = InsightSettings(sample_rate=1.0, max_samples_per_second=1e9, window=3, pending=100)
ROWS = (2, 5, 1, 3, 4)  # five requests; the window keeps the last three


def batches(features: int, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [(rng.normal(size=(n, features)) * scale).astype(np.float32) for n in ROWS]


def halvings(x: np.ndarray) -> int:
    count = 0
    while np.abs(x).sum() > 1:
        x = x / 2
        count += 1
    return count


def keras_layers(name: str, x: np.ndarray) -> tuple[dict[str, np.ndarray], list[int]]:
    """Each block's output by path, and the loop's halvings, from the Keras model itself."""
    model = build(name, seed=0)
    out: dict[str, np.ndarray] = {}
    loops: list[int] = []

    def fixed(block, x, prefix):
        h = block.flatten(x)
        out[f"{prefix}/{block.flatten.name}"] = h.numpy()
        h = tf.nn.relu(tf.matmul(h, block.rand_weight) + 1.0)
        h = block.dense(h)
        out[f"{prefix}/{block.dense.name}"] = h.numpy()
        loops.append(halvings(h.numpy()))
        y = model(x) if prefix == name else block(x)
        out[prefix] = y.numpy()
        return y

    def nest(block, x, prefix):
        h = x
        for layer in block.net.layers:
            h = layer(h)
            out[f"{prefix}/net/{layer.name}"] = h.numpy()
        out[f"{prefix}/net"] = h.numpy()
        h = block.dense(h)
        out[f"{prefix}/{block.dense.name}"] = out[prefix] = h.numpy()
        return h

    if name == "fixed_hidden_mlp":
        fixed(model, x, name)
    elif name == "nest_mlp":
        nest(model, x, name)
    elif name == "chimera":
        h = nest(model.layers[0], x, f"{name}/nest_mlp")
        h = model.layers[1](h)
        out[f"{name}/{model.layers[1].name}"] = h.numpy()
        fixed(model.layers[2], h, f"{name}/fixed_hidden_mlp")
        out[name] = out[f"{name}/fixed_hidden_mlp"]
    else:  # Sequential
        h = x
        for layer in model.layers:
            h = layer(h)
            out[f"{name}/{layer.name}"] = h.numpy()
        out[name] = h.numpy()
    return out, loops


def assert_statistics(stats: inspection_pb2.ActivationStatistics, values: np.ndarray) -> None:
    values = values.astype(np.float64).reshape(-1)
    assert stats.count == values.size
    np.testing.assert_allclose(
        [stats.mean, stats.std, stats.min, stats.max],
        [values.mean(), values.std(), values.min(), values.max()],
        rtol=1e-5,
        atol=1e-6,
    )
    assert stats.zero_fraction == pytest.approx(np.count_nonzero(values == 0) / values.size)
    assert stats.non_finite_fraction == 0
    edges = np.array(stats.histogram.edges)
    assert list(stats.histogram.counts) == np.histogram(values, edges)[0].tolist()


def sampled(model, inputs: list[np.ndarray], settings: InsightSettings = EVERYTHING):
    insight = VersionInsight(model, settings)
    for x in inputs:
        insight.offer("serving_default", {"x": x})
    while insight.pending():
        insight.work()
    return insight


@pytest.mark.parametrize("name", ["mlp", "nest_mlp", "fixed_hidden_mlp", "chimera", "param_net"])
def test_statistics_equal_the_keras_layers_by_hand(exported: Path, opened, name: str) -> None:
    model = opened(exported / name / "1", name)
    features = model.signatures["serving_default"].inputs["x"].shape[1]
    inputs = batches(features, scale=0.05 if name in ("fixed_hidden_mlp", "chimera") else 1.0)
    summary = merge_activation_summaries([sampled(model, inputs).activation_summary()])
    by_hand = [keras_layers(name, x) for x in inputs]
    assert summary.sampled_requests == len(inputs)
    assert {layer.path for layer in summary.layers} == set(by_hand[0][0])
    for layer in summary.layers:
        every = np.concatenate([out[layer.path].reshape(-1) for out, _ in by_hand])
        last = np.concatenate([out[layer.path].reshape(-1) for out, _ in by_hand[-3:]])
        assert_statistics(layer.since_load, every)
        assert_statistics(layer.window, last)
    loops = [n for _, counts in by_hand[-3:] for n in counts]
    assert summary.loop_halvings.count == len(loops)
    if loops:
        assert summary.loop_halvings.mean == pytest.approx(np.mean(loops))
        assert summary.loop_halvings.max == max(loops) and max(loops) > 0


def test_seed_layer_paths_are_the_parameter_summary_paths(exported: Path, opened) -> None:
    model = opened(exported / "chimera" / "1", "chimera")
    summary = merge_activation_summaries([sampled(model, batches(20)).activation_summary()])
    assert [layer.path for layer in summary.layers] == [
        "chimera/nest_mlp/net/dense",
        "chimera/nest_mlp/net",
        "chimera/nest_mlp/net/dense_1",
        "chimera/nest_mlp",
        "chimera/nest_mlp/dense_2",
        "chimera/dense_3",
        "chimera/fixed_hidden_mlp/flatten",
        "chimera/fixed_hidden_mlp/dense_4",
        "chimera",
        "chimera/fixed_hidden_mlp",
    ]
    parameter_layers = {layer.path for layer in model.summary.layers}
    assert parameter_layers <= {layer.path for layer in summary.layers}


def test_answers_are_the_same_with_and_without_sampling(exported: Path, opened) -> None:
    model = opened(exported / "mlp" / "1", "mlp")
    x = batches(20)
    before = [model.run("serving_default", {"x": b}, ())["y"] for b in x]
    sampled(model, x)
    after = [model.run("serving_default", {"x": b}, ())["y"] for b in x]
    for a, b in zip(before, after, strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    ("folder", "layers"),
    [
        ("saved_model_half_plus_three", {"Mul": 0.5, "y": 3.5}),  # y = 0.5 x + 3
        ("saved_model_half_plus_two_cpu", {"Mul": 0.5, "Add": 2.5}),  # y = 0.5 x + 2
        ("saved_model_half_plus_two_tflite", {"Mul": 0.5, "y": 2.5}),
    ],
)
def test_tf1_and_tflite_models_get_layer_statistics(
    tfserving_testdata: Path, opened, folder: str, layers: dict[str, float]
) -> None:
    model = opened(tfserving_testdata / folder / "00000123", folder, 123)
    ones = [np.ones((1, 1), np.float32)] * 4
    summary = merge_activation_summaries([sampled(model, ones).activation_summary()])
    assert {layer.path: layer.since_load.mean for layer in summary.layers} == layers
    assert all(layer.since_load.count == 4 for layer in summary.layers)


def test_two_workers_merge_to_what_one_would_hold(exported: Path, opened) -> None:
    model = opened(exported / "nest_mlp" / "1", "nest_mlp")
    inputs = batches(20)
    settings = InsightSettings(sample_rate=1.0, max_samples_per_second=1e9, pending=100)
    one = merge_activation_summaries([sampled(model, inputs, settings).activation_summary()])
    halves = [sampled(model, inputs[:2], settings), sampled(model, inputs[2:], settings)]
    two = merge_activation_summaries([h.activation_summary() for h in halves])
    assert two.sampled_requests == one.sampled_requests
    for a, b in zip(one.layers, two.layers, strict=True):
        assert a.path == b.path
        assert list(a.since_load.histogram.counts) == list(b.since_load.histogram.counts)
        assert list(a.since_load.histogram.edges) == list(b.since_load.histogram.edges)
        np.testing.assert_allclose(
            [a.since_load.mean, a.since_load.std, a.since_load.zero_fraction],
            [b.since_load.mean, b.since_load.std, b.since_load.zero_fraction],
            rtol=1e-9,
        )


def test_json_form_is_the_consoles_shape(exported: Path, opened) -> None:
    from google.protobuf import json_format

    model = opened(exported / "fixed_hidden_mlp" / "1", "fixed_hidden_mlp")
    summary = merge_activation_summaries([sampled(model, batches(20, 0.05)).activation_summary()])
    shape = json_format.MessageToDict(
        summary, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    assert set(shape) == {
        *("model", "version", "signature", "sampled_requests", "layers", "loop_halvings")
    }
    stats_keys = {
        *("count", "mean", "std", "min", "max", "zero_fraction", "non_finite_fraction"),
        "histogram",
    }
    assert set(shape["layers"][0]) == {"path", "window", "since_load"}
    assert set(shape["layers"][0]["window"]) == stats_keys
    assert set(shape["loop_halvings"]) == stats_keys
    assert set(shape["layers"][0]["window"]["histogram"]) == {"edges", "counts"}

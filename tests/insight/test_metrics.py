"""The insight metrics: the merged summaries as series, bounded per model version."""

from prometheus_client import CollectorRegistry, generate_latest

from service.insight.metrics import ACTIVATION_STATISTICS, InsightCollector
from service.protos.blockserve.v1 import inspection_pb2


def summary(layers: int, version: int = 1) -> inspection_pb2.ActivationSummary:
    result = inspection_pb2.ActivationSummary(model="m", version=version, sampled_requests=7)
    for i in range(layers):
        layer = result.layers.add(path=f"m/dense_{i}")
        layer.window.count, layer.window.mean, layer.window.zero_fraction = 10, 0.5, 0.25
    return result


def drift(inputs: int) -> inspection_pb2.InputDrift:
    result = inspection_pb2.InputDrift(model="m", version=1)
    for i in range(inputs):
        result.inputs.add(name=f"x{i}", score=0.4)
    return result


def samples(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_series_carry_model_version_and_layer() -> None:
    registry = CollectorRegistry()
    collector = InsightCollector()
    registry.register(collector)
    collector.update(summary(2), drift(1))
    lines = samples(registry)
    assert 'blockserve_activation_mean{layer="m/dense_0",model="m",version="1"} 0.5' in lines
    assert (
        'blockserve_activation_zero_fraction{layer="m/dense_1",model="m",version="1"} 0.25' in lines
    )
    assert 'blockserve_activation_sampled_requests{model="m",version="1"} 7.0' in lines
    assert 'blockserve_input_drift{input="x0",model="m",version="1"} 0.4' in lines


def test_the_series_count_stays_bounded() -> None:
    registry = CollectorRegistry()
    collector = InsightCollector(max_series_per_version=100)
    registry.register(collector)
    collector.update(summary(500), drift(500))
    lines = samples(registry)
    activation = [line for line in lines if line.startswith("blockserve_activation_")]
    assert len(activation) <= 100
    assert len(activation) == 1 + (99 // len(ACTIVATION_STATISTICS)) * len(ACTIVATION_STATISTICS)
    assert len([line for line in lines if line.startswith("blockserve_input_drift")]) == 100


def test_an_unloaded_version_leaves_no_series() -> None:
    registry = CollectorRegistry()
    collector = InsightCollector()
    registry.register(collector)
    collector.update(summary(2), drift(1))
    collector.remove("m", 1)
    assert samples(registry) == []

"""Sampling costs a bounded amount: a share of requests, at most a rate per second, a few
waiting at once; offering a request takes microseconds."""

import time
from pathlib import Path

import numpy as np

from service.insight.monitor import VersionInsight
from service.insight.settings import InsightSettings


def test_the_cap_per_second_bounds_the_samples(exported: Path, opened) -> None:
    model = opened(exported / "mlp" / "1", "mlp")
    insight = VersionInsight(
        model, InsightSettings(sample_rate=1.0, max_samples_per_second=5, pending=1000)
    )
    x = {"x": np.zeros((1, 20), np.float32)}
    for _ in range(10_000):
        insight.offer("serving_default", x)
    assert 5 <= len(insight._pending) <= 6
    assert insight.dropped >= 10_000 - 6


def test_the_rate_is_the_share_sampled(exported: Path, opened) -> None:
    model = opened(exported / "mlp" / "1", "mlp")
    insight = VersionInsight(
        model, InsightSettings(sample_rate=0.1, max_samples_per_second=1e9, pending=10**6)
    )
    x = {"x": np.zeros((1, 20), np.float32)}
    for _ in range(20_000):
        insight.offer("serving_default", x)
    assert 1600 < len(insight._pending) < 2400


def test_waiting_samples_are_bounded_and_offer_is_cheap(exported: Path, opened) -> None:
    model = opened(exported / "mlp" / "1", "mlp")
    insight = VersionInsight(model, InsightSettings())  # the defaults
    x = {"x": np.zeros((1, 20), np.float32)}
    started = time.perf_counter()
    for _ in range(20_000):
        insight.offer("serving_default", x)
    per_offer = (time.perf_counter() - started) / 20_000
    assert len(insight._pending) <= InsightSettings().pending
    assert per_offer < 20e-6, f"{per_offer * 1e6:.1f} us per offer"


def test_a_large_request_of_a_coupled_model_is_not_cut(exported: Path, opened) -> None:
    model = opened(exported / "fixed_hidden_mlp" / "1", "fixed_hidden_mlp")
    settings = InsightSettings(sample_rate=1.0, max_samples_per_second=1e9, max_sample_rows=8)
    insight = VersionInsight(model, settings)
    insight.offer("serving_default", {"x": np.zeros((9, 20), np.float32)})
    assert not insight.pending()
    uncoupled = VersionInsight(opened(exported / "mlp" / "1", "mlp"), settings)
    uncoupled.offer("serving_default", {"x": np.zeros((9, 20), np.float32)})
    assert uncoupled._pending[0][1]["x"].shape == (8, 20)

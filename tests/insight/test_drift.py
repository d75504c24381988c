"""Input drift: a shifted input distribution scores above the alert's threshold, an unshifted
one below; the reference comes from the file beside the model, else the first requests."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from service.insight.merge import merge_input_drift
from service.insight.monitor import VersionInsight
from service.insight.reference import REFERENCE_FILE, write_reference
from service.insight.settings import InsightSettings
from service.shared.options import RuntimeOptions
from service.worker.runtime.loader import open_version

ALERT_THRESHOLD = 0.25  # deploy/prometheus/rules/insight.yml
SETTINGS = InsightSettings(
    sample_rate=1.0, max_samples_per_second=1e9, pending=1000, reference_requests=50
)


def requests(count: int, rows: int, shift: float = 0.0, seed: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(rows, 4)) + shift).astype(np.float32) for _ in range(count)]


def feed(insight: VersionInsight, batches: list[np.ndarray]) -> None:
    for x in batches:
        insight.offer("serving_default", {"x": x})
        insight.work()


@pytest.fixture
def with_reference(exported: Path, tmp_path: Path):
    """param_net version 1 with a reference file of 2,000 rows of N(0, 1) beside it."""
    folder = shutil.copytree(exported / "param_net" / "1", tmp_path / "param_net" / "1")
    reference = np.random.default_rng(0).normal(size=(2000, 4)).astype(np.float32)
    write_reference(folder / REFERENCE_FILE, {"x": reference})
    model = open_version("param_net", 1, folder, RuntimeOptions())
    yield model
    model.close()


@pytest.mark.parametrize(("shift", "drifted"), [(0.0, False), (1.0, True)])
def test_a_shifted_input_crosses_the_alert_threshold(with_reference, shift, drifted) -> None:
    insight = VersionInsight(with_reference, SETTINGS)
    feed(insight, requests(100, 10, shift))
    drift = merge_input_drift([insight.input_drift()])
    assert drift.reference.source == "file" and drift.reference.rows == 2000
    assert drift.window_rows == 1000
    (scored,) = drift.inputs
    assert scored.name == "x" and [f.index for f in scored.features] == [0, 1, 2, 3]
    assert scored.score == max(f.psi for f in scored.features)
    assert (scored.score > ALERT_THRESHOLD) is drifted
    if drifted:  # a one-sigma shift moves the CDF by about 0.38 at the median
        assert all(0.3 < f.ks < 0.45 for f in scored.features)
    else:
        assert all(f.ks < 0.1 for f in scored.features)


def test_without_a_file_the_first_requests_are_the_reference(exported: Path, opened) -> None:
    model = opened(exported / "param_net" / "1", "param_net")
    insight = VersionInsight(model, SETTINGS)
    feed(insight, requests(20, 10))
    drift = merge_input_drift([insight.input_drift()])
    assert (drift.reference.source, drift.reference.rows, len(drift.inputs)) == (
        "first_requests",
        200,
        0,
    )
    feed(insight, requests(30, 10, seed=3))
    assert merge_input_drift([insight.input_drift()]).reference.rows == 500
    feed(insight, requests(30, 10, shift=2.0, seed=4))
    drift = merge_input_drift([insight.input_drift()])
    assert drift.window_rows == 300 and drift.inputs[0].score > ALERT_THRESHOLD


def test_workers_with_the_file_reference_merge_exactly(with_reference) -> None:
    batches = requests(60, 10, shift=0.3)
    one, halves = (
        VersionInsight(with_reference, SETTINGS),
        [VersionInsight(with_reference, SETTINGS) for _ in range(2)],
    )
    feed(one, batches)
    feed(halves[0], batches[:30])
    feed(halves[1], batches[30:])
    single = merge_input_drift([one.input_drift()])
    merged = merge_input_drift([h.input_drift() for h in halves])
    assert merged.window_rows == single.window_rows == 600
    for a, b in zip(single.inputs[0].features, merged.inputs[0].features, strict=True):
        assert (a.index, a.psi, a.ks) == pytest.approx((b.index, b.psi, b.ks))


def test_sampling_off_says_so(exported: Path, opened) -> None:
    model = opened(exported / "param_net" / "1", "param_net")
    insight = VersionInsight(model, InsightSettings(sample_rate=0.0))
    feed(insight, requests(5, 10))
    drift = merge_input_drift([insight.input_drift()])
    assert drift.reference.source == "none" and not insight.pending()

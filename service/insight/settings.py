"""The settings of live insight, parsed once at start-up and passed to every worker."""

from dataclasses import dataclass

# Chosen by measurement, in one process with TensorFlow's pools at one thread as in a worker:
# a sampled request's work() costs 0.24 ms of CPU for a one-row mlp request (0.42 ms for
# chimera) against 0.10 ms (0.16 ms) for the request's own TensorFlow call and ~0.8 ms for the
# whole request across front and worker (README, Performance). At 1% that adds 0.3% to a
# request's cost; the cap of 20 a second per version bounds it at 0.5% to 0.9% of one core
# whatever the traffic, inside the 3% throughput budget. offer() costs 0.2 us.
DEFAULT_SAMPLE_RATE = 0.01
DEFAULT_MAX_SAMPLES_PER_SECOND = 20.0


@dataclass(frozen=True)
class InsightSettings:
    """How much traffic live insight samples and how much of it it remembers."""

    sample_rate: float = DEFAULT_SAMPLE_RATE
    """Share of requests sampled (--activation_sample_rate); 0 turns live insight off."""
    max_samples_per_second: float = DEFAULT_MAX_SAMPLES_PER_SECOND
    """Cap per version and worker, so that heavy traffic costs a bounded amount."""
    window: int = 100
    """Sampled requests in the activation statistics' sliding window."""
    pending: int = 4
    """Sampled requests waiting for an idle moment at most; later ones are dropped."""
    max_sample_rows: int = 256
    """Rows of one sampled request kept (models whose rows are coupled skip larger ones)."""
    reference_requests: int = 200
    """Without a reference file, the first this many sampled requests are the reference."""
    reference_max_rows: int = 10_000
    drift_window_rows: int = 1_000
    """Rows of recent sampled inputs compared against the reference."""
    drift_min_rows: int = 100
    """Fewer window rows than this are too noisy to score."""
    max_drift_features: int = 64
    """Features per input scored at most (evenly spaced over a wider input)."""

    @property
    def enabled(self) -> bool:
        return self.sample_rate > 0 and self.max_samples_per_second > 0

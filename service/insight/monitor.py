"""Live insight for one loaded version, in the worker that serves it.

The worker offers every request after its reply went (`offer`: microseconds, a sampling
decision and, for a sampled request, a copy of its inputs into a small buffer) and, when no
request waits, lets it work off one buffered sample (`work`): an instrumented call of its own,
never the request's, then the statistics. So an answer is never the instrumented run's and
never waits for it.
"""

import logging
import random
import threading
import time
from collections import Counter, deque
from typing import Any

import numpy as np

from service.insight.drift import DriftWindow, InputReference, as_rows, drift_state
from service.insight.instrumented import InstrumentedCall, NotInstrumentable, instrument
from service.insight.moments import Moments
from service.insight.reference import REFERENCE_FILE, read_reference
from service.insight.settings import InsightSettings
from service.protos.blockserve.v1 import inspection_pb2
from service.shared.errors import FailedPrecondition
from service.shared.signature import DEFAULT_SIGNATURE

log = logging.getLogger(__name__)


class _SignatureActivations:
    """One signature's instrumented call and its statistics, in the window and since load."""

    def __init__(self, call: InstrumentedCall, window: int) -> None:
        self.call = call
        self.samples = 0
        self.window: deque[list[Moments]] = deque(maxlen=window)
        self.since_load = [Moments() for _ in call.paths]
        self.loop_window: deque[Moments] = deque(maxlen=window)

    def add(self, inputs: dict[str, np.ndarray], lock: threading.Lock) -> None:
        result = self.call.run(inputs)
        sample = [Moments.of(values) for values in result.layers]
        with lock:
            self._account(sample, result.loop_iterations)

    def _account(self, sample: list[Moments], loop_iterations: list[int]) -> None:
        for total, part in zip(self.since_load, sample, strict=True):
            total.add(part)
        self.window.append(sample)
        if loop_iterations:
            self.loop_window.append(Moments.of(np.array(loop_iterations, np.float64)))
        self.samples += 1


class VersionInsight:
    """Sampling, activation statistics and input drift of one loaded version."""

    def __init__(self, model: Any, settings: InsightSettings) -> None:
        self.name, self.version = model.name, model.version
        self._model = model
        self._settings = settings
        # work() runs on the worker's calling thread; summaries may be asked from another.
        self._lock = threading.Lock()
        self._rows_coupled = bool(getattr(model.facts, "rows_coupled", False))
        self._pending: deque[tuple[str, dict[str, np.ndarray]]] = deque()
        self._tokens = settings.max_samples_per_second
        self._refilled = time.monotonic()
        self._random = random.Random()
        self.dropped = 0
        self._signatures: dict[str, _SignatureActivations] = {}
        self._problems: dict[str, str] = {}
        self._offered: Counter[str] = Counter()
        self._numeric = {
            name: {
                k for k, s in sig.inputs.items() if s.dtype is not None and s.dtype.kind in "biuf"
            }
            for name, sig in model.signatures.items()
        }
        self._reference: InputReference | None = None
        self._gathering: dict[str, list[np.ndarray]] = {}
        self._gathered = 0
        self._window = DriftWindow(settings.drift_window_rows)
        self._read_reference_file()
        if settings.enabled and DEFAULT_SIGNATURE in model.signatures:
            # ~25 ms: here, on the thread that loads, rather than in work() between requests.
            self._activations(DEFAULT_SIGNATURE)

    # -- the request path --------------------------------------------------------------------

    def offer(self, signature: str, inputs: dict[str, np.ndarray]) -> None:
        """Maybe keep a request's inputs for a later instrumented run. Call after the reply."""
        settings = self._settings
        if not settings.enabled or self._random.random() >= settings.sample_rate:
            return
        now = time.monotonic()
        self._tokens = min(
            settings.max_samples_per_second,
            self._tokens + (now - self._refilled) * settings.max_samples_per_second,
        )
        self._refilled = now
        if self._tokens < 1 or len(self._pending) >= settings.pending:
            self.dropped += 1
            return
        kept = self._keep(inputs)
        if kept is None:
            self.dropped += 1
            return
        self._tokens -= 1
        self._pending.append((signature, kept))

    def _keep(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        most = self._settings.max_sample_rows
        rows = {a.shape[0] if a.ndim else 1 for a in inputs.values()}
        if max(rows, default=0) <= most:
            return {k: np.array(v, copy=True) for k, v in inputs.items()}
        if self._rows_coupled or len(rows) != 1:
            return None  # fewer rows would change what the model computes
        return {k: np.array(v[:most], copy=True) for k, v in inputs.items()}

    def pending(self) -> bool:
        """Whether a sample waits for work()."""
        return bool(self._pending)

    def work(self) -> None:
        """Run one waiting sample through the instrumented call and account for it. Call only
        when no request waits: it takes about as long as the request's own call."""
        if not self._pending:
            return
        signature, inputs = self._pending.popleft()
        with self._lock:
            self._offered[signature] += 1
            self._add_inputs(signature, inputs)
        activations = self._activations(signature)
        if activations is None:
            return
        try:
            activations.add(inputs, self._lock)
        except Exception as e:  # the request answered; its second run must not break anything
            log.warning("instrumented call of %s version %d failed: %s", self.name, self.version, e)

    def _activations(self, signature: str) -> "_SignatureActivations | None":
        known = self._signatures.get(signature)
        if known is not None or signature in self._problems:
            return known
        try:
            call = instrument(self._model, signature)
        except (NotInstrumentable, Exception) as e:
            self._problems[signature] = f"{type(e).__name__}: {e}"
            log.warning(
                "no activation statistics for %s version %d signature %s: %s",
                self.name,
                self.version,
                signature,
                e,
            )
            return None
        self._signatures[signature] = _SignatureActivations(call, self._settings.window)
        return self._signatures[signature]

    # -- drift -------------------------------------------------------------------------------

    def _read_reference_file(self) -> None:
        path = self._model.path / REFERENCE_FILE
        if not path.is_file():
            return
        try:
            arrays = read_reference(path)
            self._reference = InputReference("file", arrays, self._settings.max_drift_features)
        except Exception as e:
            log.warning("ignoring %s: %s", path, e)

    def _add_inputs(self, signature: str, inputs: dict[str, np.ndarray]) -> None:
        numeric = {
            k: as_rows(v) for k, v in inputs.items() if k in self._numeric.get(signature, ())
        }
        if not numeric:
            return
        if self._reference is None:
            self._gather(numeric)
            return
        for name, rows in numeric.items():
            if name in self._reference.bins:
                self._window.add(name, rows)

    def _gather(self, numeric: dict[str, np.ndarray]) -> None:
        settings = self._settings
        for name, rows in numeric.items():
            self._gathering.setdefault(name, []).append(rows)
        self._gathered += 1
        held = max(sum(len(r) for r in parts) for parts in self._gathering.values())
        if self._gathered >= settings.reference_requests or held >= settings.reference_max_rows:
            arrays = {
                k: np.concatenate(v)[: settings.reference_max_rows]
                for k, v in self._gathering.items()
            }
            self._reference = InputReference("first_requests", arrays, settings.max_drift_features)
            self._gathering.clear()

    # -- summaries ---------------------------------------------------------------------------

    def activation_summary(self, signature: str = "") -> bytes:
        """The ActivationSummary, serialized, with whole-grid histograms for merging (pass it
        through merge_activation_summaries, even from one worker). Raises FailedPrecondition
        when the signature cannot be instrumented. Safe to call from any thread."""
        with self._lock:
            return self._activation_summary(signature)

    def _activation_summary(self, signature: str) -> bytes:
        signature = signature or self._chosen_signature()
        summary = inspection_pb2.ActivationSummary(
            model=self.name, version=self.version, signature=signature
        )
        if signature in self._problems and signature not in self._signatures:
            raise FailedPrecondition(
                f"model {self.name!r} version {self.version} signature {signature!r} cannot be "
                f"instrumented: {self._problems[signature]}"
            )
        activations = self._signatures.get(signature)
        if activations is None:
            return summary.SerializeToString()
        summary.sampled_requests = activations.samples
        for i, path in enumerate(activations.call.paths):
            window = Moments()
            for sample in activations.window:
                window.add(sample[i])
            summary.layers.add(
                path=path,
                window=window.to_proto(trim=False),
                since_load=activations.since_load[i].to_proto(trim=False),
            )
        loops = Moments()
        for sample in activations.loop_window:
            loops.add(sample)
        summary.loop_halvings.CopyFrom(loops.to_proto(trim=False))
        return summary.SerializeToString()

    def _chosen_signature(self) -> str:
        if DEFAULT_SIGNATURE in self._offered or not self._offered:
            return DEFAULT_SIGNATURE
        return self._offered.most_common(1)[0][0]

    def input_drift(self) -> bytes:
        """The InputDriftState, serialized (merge_input_drift turns it into InputDrift). Safe
        to call from any thread."""
        with self._lock:
            return self._input_drift()

    def _input_drift(self) -> bytes:
        settings = self._settings
        state = drift_state(self._reference, self._window, settings.drift_min_rows)
        drift = state.drift
        drift.model, drift.version = self.name, self.version
        if self._reference is not None:
            drift.reference.source, drift.reference.rows = (
                self._reference.source,
                self._reference.rows,
            )
        elif settings.enabled:
            drift.reference.source = "first_requests"
            drift.reference.rows = max(
                (sum(len(r) for r in parts) for parts in self._gathering.values()), default=0
            )
        else:
            drift.reference.source = "none"
        return state.SerializeToString()

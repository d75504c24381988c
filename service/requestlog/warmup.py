"""Logged traffic as a version's warm-up requests (assets.extra/tf_serving_warmup_requests)."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from service.protos.tensorflow_serving.apis import prediction_log_pb2
from service.requestlog.tfrecord import frame, read_records

MAX_WARMUP_RECORDS = 1000
"""TensorFlow Serving refuses a warm-up file with more records than this."""

REPLAYED = ("predict_log", "classify_log", "regress_log", "multi_inference_log")
"""The records warm-up replays, and the ones the request log writes."""


@dataclass(frozen=True)
class Conversion:
    """What `to_warmup` kept and left out."""

    written: int
    other_models: int
    not_replayed: int
    past_limit: int


def _model_of(entry: prediction_log_pb2.PredictionLog) -> str:
    return entry.log_metadata.model_spec.name


def to_warmup(
    logs: Iterable[Path],
    output: Path,
    model: str = "",
    max_records: int = MAX_WARMUP_RECORDS,
) -> Conversion:
    """Write the logs' records, in order, as warm-up records: requests only (warm-up does not
    read the responses), of `model` alone if given, `max_records` at most."""
    written = other_models = not_replayed = past_limit = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as out:
        for entry in _entries(logs):
            if model and _model_of(entry) != model:
                other_models += 1
                continue
            kind = entry.WhichOneof("log_type")
            if kind not in REPLAYED:
                not_replayed += 1
                continue
            if written >= max_records:
                past_limit += 1
                continue
            getattr(entry, kind).ClearField("response")
            out.write(frame(entry.SerializeToString()))
            written += 1
    return Conversion(written, other_models, not_replayed, past_limit)


def _entries(logs: Iterable[Path]) -> Iterator[prediction_log_pb2.PredictionLog]:
    for path in logs:
        for record in read_records(path):
            yield prediction_log_pb2.PredictionLog.FromString(record)

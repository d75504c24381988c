"""TensorFlow Serving's BatchingParameters text format, read as TensorFlow Serving reads it."""

import logging
from pathlib import Path

import pytest

from service.front.config import ConfigError
from service.shared.batching import BatchingParameters, read_batching_parameters

TFSERVING_EXAMPLE = """
max_batch_size { value: 128 }
batch_timeout_micros { value: 500 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 4 }
allowed_batch_sizes: 32
allowed_batch_sizes: 128
"""


def test_reads_tfserving_batching_parameters(tmp_path: Path) -> None:
    path = tmp_path / "batching.config"
    path.write_text(TFSERVING_EXAMPLE)
    assert read_batching_parameters(str(path)) == BatchingParameters(
        max_batch_size=128,
        batch_timeout_micros=500,
        max_enqueued_batches=100,
        num_batch_threads=4,
        allowed_batch_sizes=(32, 128),
    )


def test_fields_left_out_keep_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "batching.config"
    path.write_text("max_batch_size { value: 8 }\n")
    params = read_batching_parameters(str(path))
    assert params.max_batch_size == 8
    assert params.num_batch_threads == BatchingParameters().num_batch_threads


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_batch_size { value: 0 }", "must be positive"),
        ("max_batch_size { value: 64 }\nallowed_batch_sizes: 32", "end with max_batch_size"),
        ("allowed_batch_sizes: 64\nallowed_batch_sizes: 8", "must increase"),
        ("max_batch_size: 8", "does not parse"),
    ],
)
def test_bad_parameters_stop_the_server(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "batching.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_batching_parameters(str(path))


def test_fields_without_effect_are_said_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "batching.config"
    path.write_text(
        "max_batch_size { value: 8 }\n"
        "pad_variable_length_inputs: true\n"
        "enable_large_batch_splitting { value: true }\n"
    )
    with caplog.at_level(logging.WARNING):
        read_batching_parameters(str(path))
    said = caplog.text
    assert "pad_variable_length_inputs has no effect" in said
    assert "enable_large_batch_splitting has no effect" in said

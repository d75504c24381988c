"""Every field of TensorFlow Serving's BatchingParameters parses, and a version's own file."""

from pathlib import Path

import pytest

from service.front.config import ConfigError
from service.shared.batching import (
    PER_MODEL_FILE,
    BatchingParameters,
    read_batching_parameters,
    read_version_batching_parameters,
)

EVERY_FIELD = """
max_batch_size { value: 64 }
batch_timeout_micros { value: 250 }
max_enqueued_batches { value: 10 }
num_batch_threads { value: 3 }
thread_pool_name { value: "shared_batch_threads" }
allowed_batch_sizes: 16
allowed_batch_sizes: 32
pad_variable_length_inputs: true
enable_large_batch_splitting { value: true }
max_execution_batch_size { value: 32 }
"""


def written(folder: Path, text: str, name: str = "batching.config") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_every_field_parses(tmp_path: Path) -> None:
    assert read_batching_parameters(str(written(tmp_path, EVERY_FIELD))) == BatchingParameters(
        max_batch_size=64,
        batch_timeout_micros=250,
        max_enqueued_batches=10,
        num_batch_threads=3,
        thread_pool_name="shared_batch_threads",
        allowed_batch_sizes=(16, 32),
        pad_variable_length_inputs=True,
        enable_large_batch_splitting=True,
        max_execution_batch_size=32,
    )


def test_tensorflow_servings_batching_config_parses(tfserving_testdata: Path) -> None:
    params = read_batching_parameters(str(tfserving_testdata / "batching_config.txt"))
    assert (params.max_batch_size, params.num_batch_threads) == (128, 8)


def test_execution_batches_larger_than_batches_are_refused(tmp_path: Path) -> None:
    text = "max_batch_size { value: 8 }\nenable_large_batch_splitting { value: true }\n"
    text += "max_execution_batch_size { value: 16 }"
    with pytest.raises(ConfigError, match="must not exceed max_batch_size"):
        read_batching_parameters(str(written(tmp_path, text)))


def test_a_versions_own_parameters_keep_the_servers_thread_pool(tmp_path: Path) -> None:
    server = BatchingParameters(num_batch_threads=6, thread_pool_name="pool")
    written(
        tmp_path, "max_batch_size { value: 4 }\nnum_batch_threads { value: 99 }", PER_MODEL_FILE
    )
    own = read_version_batching_parameters(tmp_path, server)
    assert own.max_batch_size == 4
    assert (own.num_batch_threads, own.thread_pool_name) == (6, "pool")


def test_a_version_without_its_own_file_gets_the_servers(tmp_path: Path) -> None:
    server = BatchingParameters(max_batch_size=7)
    assert read_version_batching_parameters(tmp_path, server) is server

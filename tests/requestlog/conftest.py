"""Fixtures for the request log's tests: servers whose models log their calls."""

import os
from collections.abc import Collection
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.service.conftest import pytest_runtest_makereport  # noqa: F401  (server logs)


def write_logging_config(
    path: Path,
    models: dict[str, tuple[Path, str, float]],
    all_versions: Collection[str] = (),
) -> Path:
    """A ModelServerConfig serving `models` (name -> base path, filename prefix, sampling rate);
    a model with an empty prefix has no logging_config; those in `all_versions` serve every
    version on disk."""
    config = model_server_config_pb2.ModelServerConfig()
    for name, (base_path, prefix, rate) in models.items():
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path, entry.model_platform = name, str(base_path), "tensorflow"
        if name in all_versions:
            entry.model_version_policy.all.SetInParent()
        if prefix:
            logging = entry.logging_config
            logging.log_collector_config.filename_prefix = prefix
            logging.sampling_config.sampling_rate = rate
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text_format.MessageToString(config))
    os.replace(staging, path)
    return path

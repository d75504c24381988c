"""The memory floor: a process that only imports TensorFlow and loads the same SavedModels.

    python -m benchmarks.memory_baseline --model_config_file exported/models.config

Loads the newest version of every model the config lists with `tf.saved_model.load`, the way a
server must hold them, and prints JSON with the resident set size.
"""

import argparse
import gc
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from benchmarks.memory import peak_rss_bytes, rss_bytes


def newest_versions(config_file: Path) -> dict[str, Path]:
    """Model name to the folder of its highest numeric version."""
    config = text_format.Parse(config_file.read_text(), model_server_config_pb2.ModelServerConfig())
    newest = {}
    for model in config.model_config_list.config:
        versions = [v for v in Path(model.base_path).iterdir() if v.name.isdigit()]
        newest[model.name] = max(versions, key=lambda v: int(v.name))
    return newest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory_baseline", description=__doc__)
    p.add_argument("--model_config_file", required=True, type=Path)
    args = p.parse_args(argv)
    versions = newest_versions(args.model_config_file)
    loaded = [tf.saved_model.load(str(path)) for path in versions.values()]
    gc.collect()
    print(
        json.dumps(
            {
                "models": sorted(versions),
                "loaded": len(loaded),
                "rss_bytes": rss_bytes(os.getpid()),
                "peak_rss_bytes": peak_rss_bytes(os.getpid()),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

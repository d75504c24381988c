"""Export the seed models as versioned SavedModels in TensorFlow Serving's folder layout.

    python -m models.export --output-dir DIR [--models a,b] [--version N] [--seed S]

writes DIR/<name>/<version>/ for each model: a `serving_default` signature taking `x`
(float32, [batch, features]) and returning `y`, plus `assets.extra/blockserve.json`, the facts a
server needs (whether rows of one call are coupled, whether the loop can fail to end).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from models.catalog import CATALOG, SeedModel, build

INPUT_NAME = "x"
OUTPUT_NAME = "y"
FACTS_FILE = Path("assets.extra") / "blockserve.json"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


class ExportError(Exception):
    """A reason the export cannot go ahead, phrased for the person who ran it."""


@dataclass(frozen=True)
class ParameterCounts:
    """Parameters of a built model, by kind."""

    trainable: int
    non_trainable: int
    constant: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable + self.constant


def count_parameters(model: tf.keras.Model) -> ParameterCounts:
    """Count variables by kind, and constant tensors held as attributes of the model's blocks."""
    size = lambda ws: sum(int(np.prod(w.shape)) for w in ws)  # noqa: E731
    constants = {
        id(value): int(np.prod(value.shape))
        for layer in model._flatten_layers(include_self=True, recursive=True)
        for value in vars(layer).values()
        if isinstance(value, tf.Tensor) and value.dtype.is_floating
    }
    return ParameterCounts(
        size(model.trainable_weights), size(model.non_trainable_weights), sum(constants.values())
    )


def export_model(spec: SeedModel, target: Path, seed: int) -> tf.keras.Model:
    """Build `spec` and write it to `target` through a temporary folder renamed into place."""
    model = build(spec.name, seed)
    archive = tf.keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda x: {OUTPUT_NAME: model(x)},
        input_signature=[tf.TensorSpec([None, spec.features], tf.float32, name=INPUT_NAME)],
    )
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        archive.write_out(str(staging), verbose=False)
        facts = {
            "model": spec.name,
            "seed": seed,
            "input": INPUT_NAME,
            "features": spec.features,
            "rows_coupled": spec.rows_coupled,
            "loop_ends_on_non_finite": spec.loop_ends_on_non_finite,
        }
        (staging / FACTS_FILE).parent.mkdir(parents=True, exist_ok=True)
        (staging / FACTS_FILE).write_text(json.dumps(facts, indent=2) + "\n")
        write_warmup_requests(staging / WARMUP_FILE, spec)
        staging.chmod(0o755)  # mkdtemp makes it private; servers often run as another user
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return model


def shape_text(shape: tf.TensorShape) -> str:
    """Keras' way of writing a shape whose first dimension is the batch."""
    if shape.rank == 0:
        return "() (one value for the whole batch)"
    return str((None, *shape[1:]))


def write_warmup_requests(path: Path, spec: SeedModel) -> None:
    """TensorFlow Serving's warm-up file: Predict requests a server replays before serving."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for rows in (1, 8):
            entry = prediction_log_pb2.PredictionLog()
            request = entry.predict_log.request
            request.model_spec.name = spec.name
            request.model_spec.signature_name = "serving_default"
            x = np.full((rows, spec.features), 0.5, np.float32)
            request.inputs[INPUT_NAME].CopyFrom(tf.make_tensor_proto(x))
            writer.write(entry.SerializeToString())


def describe(spec: SeedModel, version: int, model: tf.keras.Model) -> str:
    """A `model.summary()`-like block of text for one exported model."""
    counts = count_parameters(model)
    out_shape = model(tf.zeros((1, spec.features))).shape
    rows = [
        f"Model: {spec.name}  version {version}",
        f"  input  {INPUT_NAME}: float32 (None, {spec.features})",
        f"  output {OUTPUT_NAME}: float32 {shape_text(out_shape)}",
        f"  rows coupled within a batch: {'yes' if spec.rows_coupled else 'no'}",
    ]
    rows += [f"  {'layer':<28}{'type':<18}{'parameters':>12}"]
    for layer in model.layers or [model]:
        rows.append(f"  {layer.name:<28}{type(layer).__name__:<18}{layer.count_params():>12,}")
    rows += [
        f"  Trainable params:     {counts.trainable:>8,}",
        f"  Non-trainable params: {counts.non_trainable:>8,}",
        f"  Constant params:      {counts.constant:>8,}",
        f"  Total params:         {counts.total:>8,}",
    ]
    return "\n".join(rows)


def plan(output_dir: Path, names: list[str], version: int) -> list[tuple[SeedModel, Path]]:
    """Check every argument before anything is written, so a bad call leaves nothing behind."""
    unknown = [n for n in names if n not in CATALOG]
    if unknown:
        raise ExportError(f"unknown model {', '.join(unknown)}; known: {', '.join(CATALOG)}")
    if version < 1:
        raise ExportError(f"--version must be a positive integer, got {version}")
    targets = [(CATALOG[n], output_dir / n / str(version)) for n in names]
    existing = [str(t) for _, t in targets if t.exists()]
    if existing:
        raise ExportError(f"version {version} exists already: {', '.join(existing)}")
    for _, target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ExportError(f"cannot create {target.parent}: {e.strerror}") from e
        if not os.access(target.parent, os.W_OK):
            raise ExportError(f"cannot write to {target.parent}: permission denied")
    return targets


def write_model_config(output_dir: Path) -> Path:
    """Write `models.config`, a ModelServerConfig naming every model folder under `output_dir`.

    It serves as is with blockserve or tensorflow_model_server (`--model_config_file`).
    """
    names = sorted(
        d.name
        for d in output_dir.iterdir()
        if d.is_dir() and any(v.name.isdigit() for v in d.iterdir())
    )
    entries = "".join(
        f'  config {{\n    name: "{n}"\n    base_path: "{(output_dir / n).resolve()}"\n'
        f'    model_platform: "tensorflow"\n  }}\n'
        for n in names
    )
    path = output_dir / "models.config"
    path.write_text(f"model_config_list {{\n{entries}}}\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--output-dir", required=True, type=Path, help="model base folder")
    parser.add_argument(
        "--models",
        default=",".join(CATALOG),
        help=f"comma-separated (default: all of {', '.join(CATALOG)})",
    )
    parser.add_argument(
        "--version", type=int, default=1, help="version folder to write (default 1)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of weights and constants (default 0)"
    )
    parser.add_argument(
        "--skip-existing", action="store_true", help="leave models whose version exists as they are"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if args.skip_existing:
        names = [n for n in names if not (args.output_dir / n / str(args.version)).exists()]
    try:
        targets = plan(args.output_dir, names, args.version)
        for spec, target in targets:
            model = export_model(spec, target, args.seed)
            print(describe(spec, args.version, model), end="\n\n", flush=True)
        args.output_dir.mkdir(parents=True, exist_ok=True)
        print(f"model config: {write_model_config(args.output_dir)}")
    except ExportError as e:
        print(f"export: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

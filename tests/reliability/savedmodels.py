"""Tiny SavedModels that misbehave on purpose: one that takes its time, one whose op fails.

Written with TensorFlow in the test process, as any user's export would be; the server never
sees this module, only the folders it writes.
"""

import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.data.experimental.ops import testing as data_testing

from models.catalog import build

MAX_SLEEP_SECONDS = 30.0
TABLE = (10.0, 20.0, 30.0)


class Sleepy(tf.Module):
    """y = 2x, after sleeping max(x) seconds (without spinning a core: tf.data's sleep)."""

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        longest = tf.reduce_max(tf.concat([tf.zeros([1]), tf.reshape(x, [-1])], 0))
        seconds = tf.clip_by_value(longest, 0.0, MAX_SLEEP_SECONDS)
        seconds = tf.where(tf.math.is_finite(seconds), seconds, 0.0)
        # The sleep runs before each element and before the end of the data set: two of them.
        micros = tf.cast(seconds * 5e5, tf.int64)
        slept = tf.data.Dataset.range(1).apply(data_testing.sleep(micros))
        zero = slept.reduce(tf.constant(0, tf.int64), lambda total, item: total + item)
        return {"y": x * 2.0 + tf.cast(zero, tf.float32)}


class Lookup(tf.Module):
    """y = TABLE[index]: an index outside the table is an op error raised while running."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="index")])
    def serve(self, index: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.gather(tf.constant(TABLE), index)}


def save(module: tf.Module, version_dir: Path, facts: dict[str, bool] | None = None) -> Path:
    """Save `module.serve` as `serving_default`; `facts` go where models.export writes them."""
    tf.saved_model.save(module, str(version_dir), signatures={"serving_default": module.serve})
    if facts is not None:
        extra = version_dir / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "blockserve.json").write_text(json.dumps(facts))
    return version_dir


def write_tiny_models(root: Path) -> dict[str, Path]:
    """Base paths, each with version 1: `sleepy` (one call per request), `sleepy_batched` (its
    export says rows are independent, so a server with --enable_batching merges it) and
    `lookup`."""
    # `sleepy` says its rows are coupled, so that even with --enable_batching it takes the
    # one-call-per-request path; `sleepy_batched` is merged when batching is on.
    save(Sleepy(), root / "sleepy" / "1", {"rows_coupled": True})
    save(Sleepy(), root / "sleepy_batched" / "1", {"rows_coupled": False})
    save(Lookup(), root / "lookup" / "1")
    return {name: root / name for name in ("sleepy", "sleepy_batched", "lookup")}


OVERFLOW_INPUT = np.full((1, 20), 1e37, np.float32)
"""An input on which `write_overflowing` makes the activation before the loop +inf on any CPU."""


def write_overflowing(version_dir: Path) -> Path:
    """fixed_hidden_mlp (seed 0) with its Dense kernel set to 0.5 and its bias to 0.

    For OVERFLOW_INPUT every product is positive, so no summation order can produce -inf or NaN:
    X W = 1e37 * (column sums of the constant weight, each under 20) stays finite, and the Dense
    layer's sum, 0.5e37 * (the sum of all 400 weights, about 200), exceeds float32's 3.4e38
    whatever the order: +inf, on which `while sum(|X|) > 1: X /= 2` would never end.
    """
    model = build("fixed_hidden_mlp", 0)
    assert float(tf.reduce_sum(model.rand_weight)) > 100, "the margin above needs this"
    model.dense.kernel.assign(np.full((20, 20), 0.5, np.float32))
    model.dense.bias.assign(np.zeros(20, np.float32))
    archive = tf.keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda x: {"y": model(x)},
        input_signature=[tf.TensorSpec([None, 20], tf.float32, name="x")],
    )
    archive.write_out(str(version_dir), verbose=False)
    extra = version_dir / "assets.extra"
    extra.mkdir(exist_ok=True)
    facts = {"rows_coupled": True, "loop_ends_on_non_finite": False}
    (extra / "blockserve.json").write_text(json.dumps(facts))
    return version_dir


ABORT_ABOVE = 100.0


class Aborting(tf.Module):
    """y = 2x, except that an x above ABORT_ABOVE aborts the process (tf.raw_ops.Abort)."""

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        def abort() -> tf.Tensor:
            with tf.control_dependencies([tf.raw_ops.Abort(error_msg="aborting on purpose")]):
                return tf.identity(x)

        y = tf.cond(tf.reduce_max(x) > ABORT_ABOVE, abort, lambda: tf.identity(x))
        return {"y": y * 2.0}

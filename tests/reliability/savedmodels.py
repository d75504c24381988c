"""Tiny SavedModels that misbehave on purpose: one that takes its time, one whose op fails.

Written with TensorFlow in the test process, as any user's export would be; the server never
sees this module, only the folders it writes.
"""

import json
from pathlib import Path

import tensorflow as tf
from tensorflow.python.data.experimental.ops import testing as data_testing

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
    export says rows are independent, so the server batches it) and `lookup`."""
    save(Sleepy(), root / "sleepy" / "1")
    save(Sleepy(), root / "sleepy_batched" / "1", {"rows_coupled": False})
    save(Lookup(), root / "lookup" / "1")
    return {name: root / name for name in ("sleepy", "sleepy_batched", "lookup")}

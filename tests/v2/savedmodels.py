"""A SavedModel whose signature takes and gives every common V2 datatype, written here with
TensorFlow as a user's export would be; the server sees only the folder."""

from pathlib import Path

import tensorflow as tf


class Typed(tf.Module):
    """Four inputs of four dtypes; six outputs of six, so that a subset can be asked for."""

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.float32, name="x"),
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([None], tf.int64, name="count"),
            tf.TensorSpec([None], tf.bool, name="flag"),
        ]
    )
    def serve(
        self, x: tf.Tensor, text: tf.Tensor, count: tf.Tensor, flag: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        return {
            "doubled": x * 2.0,
            "half": tf.cast(x, tf.float16) / 2,
            "length": tf.strings.length(text),
            "echo": tf.strings.join([text, "!"]),
            "next": count + 1,
            "negated": tf.logical_not(flag),
        }


def write_typed_model(base_path: Path) -> Path:
    """`typed` at version 1 under `base_path`; returns the base path."""
    module = Typed()
    tf.saved_model.save(module, str(base_path / "1"), signatures={"serving_default": module.serve})
    return base_path

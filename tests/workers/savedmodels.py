"""Tiny SavedModels whose looped call cannot give each request its single call's bits, written
with TensorFlow in the test process as a user's export would be."""

from pathlib import Path

import tensorflow as tf

from tests.reliability.savedmodels import save


class Noisy(tf.Module):
    """y = x + noise from the clock's microseconds: no two calls give the same bits, whatever
    random seed the process set (a seeded random op repeats itself)."""

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        micros = tf.math.floormod(tf.timestamp() * 1e6, 1000.0)
        return {"y": x + tf.cast(micros, tf.float32) * 1e-3}


class Counting(tf.Module):
    """y = x + n, where n counts the calls: each call sees the count of the calls before it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = tf.Variable(0.0)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x + self.calls.assign_add(1.0)}


def write_unloopable(root: Path) -> dict[str, Path]:
    """Version 1 of `noisy` and `counting` under `root`: their version folders by name."""
    return {
        "noisy": save(Noisy(), root / "noisy" / "1"),
        "counting": save(Counting(), root / "counting" / "1"),
    }

"""The seed's `FixedHiddenMLP`: a constant parameter and control flow inside the forward pass."""

import numpy as np
import tensorflow as tf

keras = tf.keras


def halve_until_small(x: tf.Tensor) -> tf.Tensor:
    """The seed's `while reduce_sum(abs(X)) > 1: X /= 2`, as graph control flow.

    For finite activations the loop ends (at most ~128 + log2(size) halvings) and the result is
    exactly the seed's. An infinite activation with no NaN beside it would halve forever, so that
    case fails with InvalidArgumentError instead of spinning a serving thread.
    """
    l1 = tf.reduce_sum(tf.abs(x))
    never_ends = tf.logical_and(
        tf.reduce_any(tf.math.is_inf(x)), tf.logical_not(tf.math.is_nan(l1))
    )
    check = tf.debugging.Assert(
        tf.logical_not(never_ends),
        ["fixed_hidden_mlp: an activation is infinite, so `while sum(|X|) > 1: X /= 2` never ends"],
    )
    with tf.control_dependencies([check]):
        x = tf.identity(x)
    (x,) = tf.while_loop(lambda x: tf.reduce_sum(tf.abs(x)) > 1.0, lambda x: (x / 2.0,), (x,))
    return x


class FixedHiddenMLP(keras.Model):
    """relu(X W + 1) with a fixed random W, a Dense(20, relu), halving, then the sum of all X.

    The output is one scalar for the whole batch: rows of one call are coupled.
    """

    def __init__(self, seed: int, name: str = "fixed_hidden_mlp") -> None:
        super().__init__(name=name)
        self.flatten = keras.layers.Flatten()
        # A constant, not a variable: it is embedded in the graph and never trained.
        rng = np.random.default_rng(seed)
        self.rand_weight = tf.constant(
            rng.uniform(size=(20, 20)).astype(np.float32), name="rand_weight"
        )
        self.dense = keras.layers.Dense(20, activation="relu")

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        x = self.flatten(inputs)
        x = tf.nn.relu(tf.matmul(x, self.rand_weight) + 1.0)
        x = self.dense(x)
        return tf.reduce_sum(halve_until_small(x))

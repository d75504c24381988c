"""The seed's nested blocks: `NestMLP` and the `chimera` that mixes every way of composing."""

import tensorflow as tf

from models.fixed_hidden import FixedHiddenMLP

keras = tf.keras


class NestMLP(keras.Model):
    """A Sequential of Dense(64, relu), Dense(32, relu), inside a block, then Dense(16, relu)."""

    def __init__(self, name: str = "nest_mlp") -> None:
        super().__init__(name=name)
        self.net = keras.Sequential(name="net")
        self.net.add(keras.layers.Dense(64, activation="relu"))
        self.net.add(keras.layers.Dense(32, activation="relu"))
        self.dense = keras.layers.Dense(16, activation="relu")

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return self.dense(self.net(inputs))


def chimera(seed: int) -> keras.Model:
    """NestMLP, Dense(20), then FixedHiddenMLP, chained in a Sequential."""
    net = keras.Sequential(name="chimera")
    net.add(NestMLP())
    net.add(keras.layers.Dense(20))
    net.add(FixedHiddenMLP(seed))
    return net

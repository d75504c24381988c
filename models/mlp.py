"""The seed's multilayer perceptron, built three ways: Sequential, subclassed, hand-chained."""

import tensorflow as tf

keras = tf.keras


def sequential_mlp() -> keras.Model:
    """Dense(256, relu) then Dense(10), as the seed's `Sequential`."""
    return keras.Sequential(
        [keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)], name="mlp"
    )


class MLP(keras.Model):
    """The seed's subclassed block: a hidden layer and an output layer as attributes."""

    def __init__(self, name: str = "mlp_subclassed") -> None:
        super().__init__(name=name)
        self.hidden = keras.layers.Dense(256, activation="relu", name="hidden")
        self.out = keras.layers.Dense(10, name="out")

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return self.out(self.hidden(inputs))


class MySequential(keras.Model):
    """The seed's hand-written Sequential: runs its blocks in the order they were given."""

    def __init__(self, *blocks: keras.layers.Layer, name: str = "my_sequential") -> None:
        super().__init__(name=name)
        self.blocks = list(blocks)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        x = inputs
        for block in self.blocks:
            x = block(x)
        return x


def my_sequential_mlp() -> keras.Model:
    """The MLP chained through `MySequential`."""
    return MySequential(keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10))

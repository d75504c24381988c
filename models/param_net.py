"""The network of the seed's parameter-management chapter."""

import tensorflow as tf

keras = tf.keras


def param_net() -> keras.Model:
    """Flatten, Dense(4, relu), Dense(1)."""
    return keras.Sequential(
        [keras.layers.Flatten(), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)],
        name="param_net",
    )

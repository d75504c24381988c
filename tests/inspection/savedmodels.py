"""SavedModels written by the tests, each showing a case the seed models do not: hand-written
TF2 modules, a TF1 graph with initial values and a frozen weight, Keras' non-trainable state."""

from pathlib import Path

import numpy as np
import tensorflow as tf


class Dense(tf.Module):
    def __init__(self, n_in: int, n_out: int, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = tf.Variable(rng.normal(size=(n_in, n_out)).astype(np.float32), name="w")
        self.b = tf.Variable(tf.zeros([n_out]), name="b")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, self.w) + self.b


class Net(tf.Module):
    """Blocks held as a named attribute and in a list, a weight written with tf.constant, and
    two variables serving never reads (an unused one and a step counter)."""

    def __init__(self, hidden: int, seed: int, gate: bool, shift: bool) -> None:
        super().__init__()
        self.encoder = Dense(4, hidden, seed)
        self.blocks = [Dense(hidden, hidden, seed + 1), Dense(hidden, 2, seed + 2)]
        self.mix = tf.constant(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
        self.unused = tf.Variable(tf.ones([5]))
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.gate = tf.Variable(tf.fill([2], 0.5)) if gate else None
        self.shift = tf.Variable(tf.fill([2], 2.0), trainable=False) if shift else None

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x = self.encoder(x)
        for block in self.blocks:
            x = block(x)
        x = tf.matmul(x, self.mix)
        if self.gate is not None:
            x = x * self.gate
        if self.shift is not None:
            x = x + self.shift
        return x


def save_module_model(
    path: Path, hidden: int = 3, seed: int = 0, gate: bool = True, shift: bool = False
) -> Path:
    net = Net(hidden, seed, gate, shift)
    tf.saved_model.save(net, str(path), signatures=net.__call__.get_concrete_function())
    return path


def save_tf1_model(path: Path) -> Path:
    """A TF1 graph: a kernel whose initial value is a Const, a frozen weight as a Const, a
    non-trainable variable, a global step, and a one-value offset."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        with tf.compat.v1.variable_scope("dense"):
            kernel = tf.compat.v1.get_variable(
                "kernel", initializer=tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))
            )
            bias = tf.compat.v1.get_variable("bias", [4], initializer=tf.zeros_initializer())
        frozen = tf.constant(np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2), name="frozen")
        moving = tf.compat.v1.get_variable(
            "norm/moving_mean", [2], trainable=False, initializer=tf.ones_initializer()
        )
        tf.compat.v1.train.get_or_create_global_step()
        offset = tf.constant([0.5], name="offset")
        y = tf.matmul(tf.matmul(x, kernel) + bias, frozen) + offset + moving
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(path))
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature}
            )
            builder.save()
    return path


def keras_with_batch_norm() -> tf.keras.Model:
    """A functional Keras model with a user-named (upper case) layer and batch normalization."""
    keras = tf.keras
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, name="Conv")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2)(x)
    return keras.Model(inputs, outputs, name="cx")


def export_keras(model: tf.keras.Model, path: Path) -> Path:
    """Export as models.export does: Keras 3's ExportArchive."""
    archive = tf.keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda x: {"y": model(x)},
        input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="x")],
    )
    archive.write_out(str(path), verbose=False)
    return path

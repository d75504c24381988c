"""Fixtures of the inspection tests: a second export under another seed, the Keras weights."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models.catalog import build
from tests.conftest import export

# The seed models' parameters by kind: (trainable, non-trainable, constant).
SEED_TOTALS = {
    "mlp": (7946, 0, 0),
    "mlp_subclassed": (7946, 0, 0),
    "my_sequential": (7946, 0, 0),
    "fixed_hidden_mlp": (420, 0, 400),
    "nest_mlp": (3952, 0, 0),
    "chimera": (4712, 0, 400),
    "param_net": (25, 0, 0),
}


@dataclass(frozen=True)
class KerasParameters:
    """A seed model's parameters as Keras holds them, built in the test process."""

    variables: dict[str, np.ndarray]
    """By Keras variable path."""
    constants: list[np.ndarray]
    """Floating-point tensors the blocks hold as attributes (FixedHiddenMLP's rand_weight)."""


@pytest.fixture(scope="session")
def reseeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlp and chimera exported again with seed 7, as version 1."""
    out = tmp_path_factory.mktemp("reseeded")
    result = export(out, "--models", "mlp,chimera", "--seed", "7")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def keras_parameters() -> Callable[..., KerasParameters]:
    """keras_parameters(name, seed=0): the model built as the export builds it."""
    cache: dict[tuple[str, int], KerasParameters] = {}

    def parameters(name: str, seed: int = 0) -> KerasParameters:
        if (name, seed) not in cache:
            model = build(name, seed=seed)
            variables = {v.path: np.asarray(v.numpy()) for v in model.variables}
            cache[name, seed] = KerasParameters(variables, _constants(model))
        return cache[name, seed]

    return parameters


def _constants(layer: tf.keras.layers.Layer) -> list[np.ndarray]:
    own = [
        value.numpy()
        for value in vars(layer).values()
        if isinstance(value, tf.Tensor) and value.dtype.is_floating
    ]
    return own + [c for sub in getattr(layer, "layers", []) for c in _constants(sub)]

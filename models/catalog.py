"""The seed models by name: how to build each, its input width and the facts a server needs."""

from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from models.fixed_hidden import FixedHiddenMLP
from models.mlp import MLP, my_sequential_mlp, sequential_mlp
from models.nested import NestMLP, chimera
from models.param_net import param_net


@dataclass(frozen=True)
class SeedModel:
    """One exportable seed network."""

    name: str
    build: Callable[[int], tf.keras.Model]
    features: int
    rows_coupled: bool
    """One call's rows are reduced together (the loop and the sum run over the whole batch)."""
    loop_ends_on_non_finite: bool
    """False where a non-finite input can keep the model's loop from ending."""


CATALOG: dict[str, SeedModel] = {
    m.name: m
    for m in (
        SeedModel("mlp", lambda seed: sequential_mlp(), 20, False, True),
        SeedModel("mlp_subclassed", lambda seed: MLP(), 20, False, True),
        SeedModel("my_sequential", lambda seed: my_sequential_mlp(), 20, False, True),
        SeedModel("fixed_hidden_mlp", FixedHiddenMLP, 20, True, False),
        SeedModel("nest_mlp", lambda seed: NestMLP(), 20, False, True),
        SeedModel("chimera", chimera, 20, True, False),
        SeedModel("param_net", lambda seed: param_net(), 4, False, True),
    )
}


def build(name: str, seed: int) -> tf.keras.Model:
    """Build a seed model with all its parameters created, the same for the same seed."""
    spec = CATALOG[name]
    tf.keras.backend.clear_session()  # layer names restart from "dense", whatever came before
    tf.keras.utils.set_random_seed(seed)
    model = spec.build(seed)
    model(tf.zeros((1, spec.features)))
    return model

"""The file-system source: the aspired versions of a model, read off its base path."""

from dataclasses import dataclass
from pathlib import Path

from service.protos.tensorflow_serving.config import model_server_config_pb2


@dataclass(frozen=True)
class AspiredVersions:
    """The versions of one model that should be served, with their folders."""

    model: str
    versions: dict[int, Path]
    problem: str = ""
    """Why the base path yields nothing, when it does not."""


MODEL_FILES = ("saved_model.pb", "model.tflite")
"""A version folder is complete once it holds one of these (a SavedModel or a TF Lite model)."""


def complete_versions(base_path: Path) -> dict[int, Path]:
    """Numeric folders holding a saved_model.pb or a model.tflite; hidden, temporary and other
    names are ignored."""
    found = {}
    for entry in base_path.iterdir():
        if (
            entry.name.isdigit()
            and entry.is_dir()
            and any((entry / name).is_file() for name in MODEL_FILES)
        ):
            found[int(entry.name)] = entry
    return found


def aspired_versions(config: model_server_config_pb2.ModelConfig) -> AspiredVersions:
    """Apply the model's version policy (latest N by default) to what its base path holds."""
    base = Path(config.base_path)
    try:
        present = complete_versions(base)
    except OSError as e:
        return AspiredVersions(config.name, {}, f"cannot list base path {base}: {e.strerror}")
    policy = config.model_version_policy
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        chosen = sorted(present)
    elif kind == "specific":
        chosen = sorted(set(policy.specific.versions) & set(present))
    else:
        latest = policy.latest.num_versions if kind == "latest" else 1
        chosen = sorted(present)[-max(latest, 1) :]
    problem = "" if present else f"no version folders under {base}"
    return AspiredVersions(config.name, {v: present[v] for v in chosen}, problem)

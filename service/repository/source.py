"""The file-system source: the aspired versions of a model, read off its base path."""

from dataclasses import dataclass
from pathlib import Path

from tensorflow_serving.config import model_server_config_pb2


@dataclass(frozen=True)
class AspiredVersions:
    """The versions of one model that should be served, with their folders."""

    model: str
    versions: dict[int, Path]
    problem: str = ""
    """Why the base path yields nothing, when it does not."""


def complete_versions(base_path: Path) -> dict[int, Path]:
    """Numeric folders holding a saved_model.pb; hidden, temporary and other names are ignored."""
    found = {}
    for entry in base_path.iterdir():
        if entry.name.isdigit() and entry.is_dir() and (entry / "saved_model.pb").is_file():
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

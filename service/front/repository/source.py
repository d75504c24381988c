"""The file-system source: the aspired versions of a model, read off its base path."""

import contextlib
from dataclasses import dataclass
from pathlib import Path

from service.protos.tensorflow_serving.config import model_server_config_pb2


@dataclass(frozen=True)
class AspiredVersions:
    """The versions of one model that should be served, with their folders."""

    model: str
    versions: dict[int, Path]
    problem: str = ""
    """Why the base path yields nothing, when it does not, and what it should hold."""


MODEL_FILES = ("saved_model.pb", "model.tflite")
"""A version folder is complete once it holds one of these (a SavedModel or a TF Lite model)."""

Fingerprint = tuple[tuple[str, int, int], ...]
"""A version's model files as (name, mtime in ns, size): a failed version is tried again once
this changes."""


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


def fingerprint(version_dir: Path) -> Fingerprint:
    """What the version's model files are now; files missing (or gone since) are left out."""
    found = []
    for name in MODEL_FILES:
        with contextlib.suppress(OSError):
            stat = (version_dir / name).stat()
            found.append((name, stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def aspired_versions(config: model_server_config_pb2.ModelConfig) -> AspiredVersions:
    """Apply the model's version policy (latest N by default) to what its base path holds."""
    base = Path(config.base_path)
    expected = f"expected {base}/<numeric version>/saved_model.pb"
    try:
        present = complete_versions(base)
    except OSError as e:
        return AspiredVersions(
            config.name, {}, f"cannot list base path {base}: {e.strerror}; {expected}"
        )
    policy = config.model_version_policy
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        chosen = sorted(present)
    elif kind == "specific":
        chosen = sorted(set(policy.specific.versions) & set(present))
    else:
        latest = policy.latest.num_versions if kind == "latest" else 1
        chosen = sorted(present)[-max(latest, 1) :]
    problem = ""
    if not present:
        problem = f"no version folders under {base}: {expected}{_hint(base, config.name)}"
    elif not chosen:
        problem = (
            f"none of the versions the policy names ({sorted(policy.specific.versions)}) is "
            f"under {base}, which holds {sorted(present)}"
        )
    return AspiredVersions(config.name, {v: present[v] for v in chosen}, problem)


def _hint(base: Path, model: str) -> str:
    """What a base path without version folders holds instead, when that suggests a mistake:
    a version's files, or models' folders (the parent of the model's own, most often)."""
    try:
        entries = sorted(e for e in base.iterdir() if not e.name.startswith("."))
        for name in MODEL_FILES:
            if (base / name).is_file():
                return f"; {base} holds a {name} itself: did you mean to put it in {base}/1/?"
        models = [e for e in entries if e.is_dir() and _holds_versions(e)]
        unfinished = [e.name for e in entries if e.name.isdigit() and e.is_dir()]
    except OSError:
        return ""
    if base / model in models:
        return f"; it holds models' folders: did you mean {base / model}?"
    if len(models) == 1:
        return f"; it holds a model's folder: did you mean {models[0]}?"
    if models:
        shown = ", ".join(str(m) for m in models[:3]) + (", ..." if len(models) > 3 else "")
        return f"; it holds models' folders: did you mean one of {shown}?"
    if unfinished:
        files = " or ".join(MODEL_FILES)
        return f"; its version folders {unfinished[:5]} hold no {files} (yet)"
    return ""


def _holds_versions(folder: Path) -> bool:
    try:
        return bool(complete_versions(folder))
    except OSError:
        return False

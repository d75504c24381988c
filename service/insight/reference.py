"""The reference inputs file a user ships beside a model: assets.extra/blockserve_reference.npz.

One array per input name, rows first, as the signature takes them; `python -m service.client
reference` writes it from sample inputs (a .npy, .npz or JSON file).
"""

import io
import json
from pathlib import Path

import numpy as np

REFERENCE_FILE = Path("assets.extra") / "blockserve_reference.npz"


class ReferenceError(ValueError):
    """Sample inputs that cannot become a reference, phrased for the person who gave them."""


def read_reference(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a reference file, by input name."""
    with np.load(path, allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def read_samples(path: Path, default_input: str | None) -> dict[str, np.ndarray]:
    """Sample inputs by name from a .npy (one input), .npz (one array per input) or JSON file
    (TensorFlow Serving's REST request, {"instances": ...} or {"inputs": ...}, or rows)."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                return {name: arrays[name] for name in arrays.files}
        if path.suffix == ".npy":
            return _one(default_input, np.load(path, allow_pickle=False))
        body = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ReferenceError(f"cannot read samples from {path}: {e}") from None
    return _from_json(body, default_input)


def _one(name: str | None, array: np.ndarray) -> dict[str, np.ndarray]:
    if name is None:
        raise ReferenceError("the samples hold one unnamed array: say which input with --input")
    return {name: np.asarray(array)}


def _from_json(body: object, default_input: str | None) -> dict[str, np.ndarray]:
    if isinstance(body, dict) and "instances" in body:
        rows = body["instances"]
        if rows and all(isinstance(r, dict) for r in rows):
            return {k: np.asarray([r[k] for r in rows], np.float64) for k in rows[0]}
        return _one(default_input, np.asarray(rows, np.float64))
    if isinstance(body, dict) and "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict):
            return {k: np.asarray(v, np.float64) for k, v in inputs.items()}
        return _one(default_input, np.asarray(inputs, np.float64))
    if isinstance(body, list):
        return _one(default_input, np.asarray(body, np.float64))
    raise ReferenceError('JSON samples must be rows, {"instances": ...} or {"inputs": ...}')


def write_reference(
    path: Path, samples: dict[str, np.ndarray], max_rows: int = 10_000, seed: int = 0
) -> dict[str, tuple[int, ...]]:
    """Write the reference file (at most `max_rows` rows, a random choice beyond); return the
    shape written for each input."""
    if not samples:
        raise ReferenceError("no sample inputs")
    arrays = {}
    for name, array in samples.items():
        array = np.asarray(array)
        if array.ndim == 0 or array.dtype.kind not in "biuf":
            raise ReferenceError(
                f"input {name!r}: need numeric rows, got {array.dtype} {array.shape}"
            )
        if len(array) > max_rows:
            pick = np.random.default_rng(seed).choice(len(array), max_rows, replace=False)
            array = array[np.sort(pick)]
        arrays[name] = array
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return {name: a.shape for name, a in arrays.items()}

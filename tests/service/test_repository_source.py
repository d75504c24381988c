"""The file-system source explains a base path that yields no version (issue 19)."""

import os
from pathlib import Path

from service.front.repository.source import aspired_versions, fingerprint
from service.protos.tensorflow_serving.config import model_server_config_pb2


def problem(name: str, base_path: Path) -> str:
    config = model_server_config_pb2.ModelConfig(name=name, base_path=str(base_path))
    return aspired_versions(config).problem


def version(folder: Path, file: str = "saved_model.pb") -> Path:
    folder.mkdir(parents=True)
    (folder / file).write_bytes(b"")
    return folder


def test_the_parent_of_the_models_folder_names_it(tmp_path: Path) -> None:
    for name in ("mlp", "chimera"):
        version(tmp_path / name / "1")
    assert problem("mlp", tmp_path) == (
        f"no version folders under {tmp_path}: expected {tmp_path}/<numeric version>/"
        f"saved_model.pb; it holds models' folders: did you mean {tmp_path / 'mlp'}?"
    )


def test_a_folder_holding_one_other_model_names_it(tmp_path: Path) -> None:
    version(tmp_path / "other" / "3", "model.tflite")
    assert problem("mlp", tmp_path).endswith(
        f"it holds a model's folder: did you mean {tmp_path / 'other'}?"
    )


def test_a_version_folder_given_as_base_path_says_where_its_files_go(tmp_path: Path) -> None:
    version(tmp_path / "mlp")
    assert problem("mlp", tmp_path / "mlp").endswith(
        f"{tmp_path / 'mlp'} holds a saved_model.pb itself: did you mean to put it in "
        f"{tmp_path / 'mlp'}/1/?"
    )


def test_version_folders_without_a_model_file_are_named(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    assert problem("mlp", tmp_path).endswith(
        "its version folders ['1'] hold no saved_model.pb or model.tflite (yet)"
    )


def test_a_missing_base_path_says_what_was_expected(tmp_path: Path) -> None:
    assert problem("mlp", tmp_path / "nowhere") == (
        f"cannot list base path {tmp_path / 'nowhere'}: No such file or directory; expected "
        f"{tmp_path / 'nowhere'}/<numeric version>/saved_model.pb"
    )


def test_a_fingerprint_changes_with_the_model_file(tmp_path: Path) -> None:
    folder = version(tmp_path / "1")
    before = fingerprint(folder)
    os.utime(folder / "saved_model.pb", ns=(1, 1))
    assert fingerprint(folder) != before
    assert fingerprint(tmp_path / "gone") == ()

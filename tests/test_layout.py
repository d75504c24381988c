"""The layout says which code runs where: the front and the shared modules never import the
worker's (nor TensorFlow), and the shared ones import neither process's."""

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[1] / "service"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules_of(package: str) -> list[Path]:
    return sorted((SERVICE / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["front", "shared"])
def test_the_front_and_the_shared_modules_never_import_the_workers_code_or_tensorflow(
    package: str,
) -> None:
    for path in modules_of(package):
        for name in imported_modules(path):
            assert not name.startswith("service.worker"), f"{path} imports {name}"
            assert name.split(".")[0] != "tensorflow", f"{path} imports {name}"


def test_the_shared_modules_import_neither_process() -> None:
    for path in modules_of("shared"):
        for name in imported_modules(path):
            assert not name.startswith(("service.front", "service.worker")), f"{path}: {name}"


def test_the_worker_never_imports_the_front() -> None:
    for path in modules_of("worker"):
        for name in imported_modules(path):
            assert not name.startswith("service.front"), f"{path} imports {name}"

"""Comparing the parameters of two versions: matched by path, changes measured like NumPy."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from service.inspection import ParameterKind, compare, compare_parameters, find_parameters
from tests.inspection.conftest import KerasParameters
from tests.inspection.savedmodels import save_module_model


@pytest.mark.parametrize("name", ["mlp", "chimera"])
def test_a_version_compared_with_itself_shows_no_change(exported: Path, name: str) -> None:
    version = exported / name / "1"
    comparison = compare(version, version, name, 1, 1)
    assert comparison.variables
    for v in comparison.variables:
        assert not v.changed
        assert (v.max_abs_diff, v.l2_diff, v.l2_norm_change) == (0.0, 0.0, 0.0)
        assert v.cosine_similarity == 1.0
    s = comparison.summary
    assert (s.compared, s.changed) == (len(comparison.variables), 0)
    assert (s.added, s.removed, s.reshaped) == (0, 0, 0)
    assert (s.largest_change_path, s.max_abs_diff) == ("", 0.0)


@pytest.mark.parametrize("name", ["mlp", "chimera"])
def test_another_seed_changes_the_random_weights_and_not_the_zero_biases(
    exported: Path, reseeded: Path, name: str, keras_parameters: Callable[..., KerasParameters]
) -> None:
    comparison = compare(exported / name / "1", reseeded / name / "1", name, 1, 2)
    assert (comparison.base_version, comparison.version) == (1, 2)
    base, target = keras_parameters(name, 0), keras_parameters(name, 7)
    compared = {v.path: v for v in comparison.variables}
    for path, old in base.variables.items():
        new = target.variables[path]
        v = compared[path]
        assert v.changed == (path.endswith("kernel"))
        a, b = old.astype(np.float64).ravel(), new.astype(np.float64).ravel()
        assert v.base_l2_norm == pytest.approx(np.linalg.norm(a), rel=1e-12)
        assert v.l2_norm == pytest.approx(np.linalg.norm(b), rel=1e-12)
        assert v.max_abs_diff == np.abs(b - a).max()
        if v.changed:
            cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
            assert v.cosine_similarity == pytest.approx(cosine, rel=1e-9)
    constants = [v for v in comparison.variables if v.kind == ParameterKind.CONSTANT.value]
    assert all(v.changed for v in constants)  # the constant comes from the seed too
    s = comparison.summary
    assert s.changed == sum(p.endswith("kernel") for p in base.variables) + len(constants)
    assert s.largest_change_path in compared and compared[s.largest_change_path].changed
    assert s.largest_relative_l2_diff == max(v.relative_l2_diff for v in comparison.variables)
    assert s.base_total_parameters == s.total_parameters


def test_added_removed_and_reshaped_parameters_are_listed_apart(tmp_path: Path) -> None:
    base = save_module_model(tmp_path / "1", hidden=3, gate=True, shift=False)
    target = save_module_model(tmp_path / "2", hidden=5, gate=False, shift=True)
    comparison = compare(base, target, "net", 1, 2)
    assert [(a.path, a.kind) for a in comparison.added] == [
        ("shift", ParameterKind.NON_TRAINABLE.value)
    ]
    assert [r.path for r in comparison.removed] == ["gate"]
    reshaped = {r.path: (list(r.base_shape), list(r.shape)) for r in comparison.reshaped}
    assert reshaped == {
        "encoder/w": ([4, 3], [4, 5]),
        "encoder/b": ([3], [5]),
        "blocks/0/w": ([3, 3], [5, 5]),
        "blocks/0/b": ([3], [5]),
        "blocks/1/w": ([3, 2], [5, 2]),
    }
    assert sorted(v.path for v in comparison.variables) == ["Const", "blocks/1/b"]
    s = comparison.summary
    assert (s.compared, s.changed, s.added, s.removed, s.reshaped) == (2, 0, 1, 1, 5)


def test_parameter_sets_found_before_compare_as_their_folders_do(
    exported: Path, reseeded: Path
) -> None:
    base, target = exported / "chimera" / "1", reseeded / "chimera" / "1"
    found = compare_parameters(find_parameters(base), find_parameters(target), "chimera", 1, 2)
    assert found == compare(base, target, "chimera", 1, 2)

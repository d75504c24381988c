"""Text tables of summaries and comparisons: the block tree, the totals, the changes."""

from pathlib import Path

from service.inspection import compare, render_comparison, render_summary, summarize


def test_summary_table_shows_the_block_tree_with_subtotals_and_the_totals(exported: Path) -> None:
    text = render_summary(summarize(exported / "chimera" / "1", "chimera", 1))
    lines = text.splitlines()
    assert lines[0] == "Parameters of chimera, version 1"
    rows = {line.split()[0]: line for line in lines if line.strip()}
    assert rows["chimera"].split()[1] == "5,112"
    assert rows["nest_mlp"].split()[1] == "3,952"
    assert rows["net"].split()[1] == "3,424"
    assert "(20, 20)    400  constant" in rows["Const"]
    indents = {line.split()[0]: len(line) - len(line.lstrip()) for line in lines[3:] if line}
    assert (indents["chimera"], indents["nest_mlp"], indents["net"], indents["dense"]) == (
        0,
        2,
        4,
        6,
    )
    assert "Total params:                  5,112" in text
    assert "Trainable params:              4,712" in text
    assert "Non-trainable params:              0" in text
    assert "Constant params:                 400" in text


def test_comparison_table_lists_each_parameter_and_the_largest_change(
    exported: Path, reseeded: Path
) -> None:
    comparison = compare(exported / "mlp" / "1", reseeded / "mlp" / "1", "mlp", 1, 2)
    text = render_comparison(comparison)
    assert text.splitlines()[0] == "Parameters of mlp: version 2 against version 1"
    for v in comparison.variables:
        (row,) = [line for line in text.splitlines() if line.startswith(v.path + " ")]
        assert row.endswith("yes" if v.changed else "no")
    assert "Compared: 4 parameters, 2 changed, 2 unchanged" in text
    assert "Total params: 7,946 -> 7,946" in text
    assert f"Largest change: {comparison.summary.largest_change_path} " in text

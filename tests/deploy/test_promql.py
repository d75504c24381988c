"""The PromQL reading that the dashboard and rule checks rely on (tests/deploy/promql.py)."""

import pytest

from tests.deploy.conftest import contract_series
from tests.deploy.promql import (
    dashboard_queries,
    grouping_labels,
    metric_names,
    render,
    unknown_references,
    variable_expression,
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.99, sum by (model, le) (rate(a_bucket{model=~"$model"}'
            "[$__rate_interval])))",
            {"a_bucket"},
        ),
        (
            "sum(rate(b_total[${__rate_interval}])) / ignoring(code) c unless d bool Inf",
            {"b_total", "c", "d"},
        ),
        ('label_replace(e, "dst", "$1", "src", "(.*)") * 1e3 offset 5m', {"e"}),
        ('count_values("value", f) or on (instance) group_left(version) g', {"f", "g"}),
        ('{__name__="h", job="x"} > 0', {"h"}),
        ("topk(5, max without (le) (i)) and absent(up)", {"i", "up"}),
    ],
)
def test_metric_names_are_the_series_read_not_functions_labels_or_strings(
    expr: str, names: set[str]
) -> None:
    assert metric_names(expr) == names


def test_grouping_labels_are_collected_from_every_clause() -> None:
    expr = "sum by (model, le) (x) / on (model) group_left (version) max without (kind) (y)"
    assert grouping_labels(expr) == {"model", "le", "version", "kind"}


def test_unknown_metric_label_and_grouping_are_reported() -> None:
    series = contract_series()
    assert unknown_references("sum by (model) (rate(blockserve_requests_total[5m]))", series) == []
    assert unknown_references("rate(blockserve_request_total[5m])", series) == [
        "metric blockserve_request_total"
    ]
    assert unknown_references('blockserve_inflight_requests{model="mlp"}', series) == [
        "label blockserve_inflight_requests{model}"
    ]
    assert unknown_references("sum by (modle) (blockserve_batch_size_count)", series) == [
        "grouping label modle"
    ]


def test_variable_queries_yield_the_expression_they_read() -> None:
    assert variable_expression('label_values(a{model=~"$model"}, version)') == 'a{model=~"$model"}'
    assert variable_expression("label_values(model)") is None
    assert variable_expression("query_result(max by (x) (b))") == "max by (x) (b)"


def test_render_fills_dashboard_and_grafana_variables() -> None:
    expr = 'rate(a{model=~"$model", version=~"${version:regex}"}[$__rate_interval])'
    assert render(expr, {"model": "mlp", "version": ".*"}) == (
        'rate(a{model=~"mlp", version=~".*"}[1m])'
    )
    with pytest.raises(KeyError, match="signature"):
        render('a{signature="$signature"}', {})


def test_dashboard_queries_come_from_nested_panels_variables_and_annotations() -> None:
    dashboard = {
        "panels": [
            {"title": "top", "targets": [{"refId": "A", "expr": "a"}]},
            {"type": "row", "panels": [{"title": "inner", "targets": [{"expr": "b"}]}]},
        ],
        "templating": {"list": [{"type": "query", "name": "v", "query": "label_values(c, x)"}]},
        "annotations": {"list": [{"name": "deploys", "expr": "d"}]},
    }
    assert [q.expr for q in dashboard_queries(dashboard)] == ["a", "b", "c", "d"]

"""The PromQL in dashboards and rules: which series each query reads, and checks against a list.

Used offline against the metrics contract (tests/deploy/conftest.py) and live against what a
running server exports, so both tests read a query the same way.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"(?<![\w:])([A-Za-z_:][\w:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_IDENTIFIER = re.compile(r"(?<![\w.:$])[A-Za-z_:][\w:]*")
_GRAFANA_VARIABLE = re.compile(r"\$\{([^}:]+)(?::[^}]*)?\}|\[\[(\w+)\]\]|\$([A-Za-z_]\w*)")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.*?)\s*,\s*\w+\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\(\s*(.*)\)\s*$", re.DOTALL)

_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "atan2", "inf", "nan"}
)
# Aggregations may be followed by a grouping clause rather than a parenthesis.
_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
# Labels every scraped series carries, whatever the server exports.
TARGET_LABELS = frozenset({"job", "instance"})

# Grafana's own variables, given values that make a query runnable on Prometheus directly.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "15000",
}


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard, and where it is."""

    where: str
    expr: str


@dataclass(frozen=True)
class Selector:
    """A series a query reads: its metric name and the labels its matchers name."""

    metric: str
    labels: frozenset[str]


def dashboard_queries(dashboard: Mapping) -> list[Query]:
    """Every PromQL expression of a Grafana dashboard: panel targets, variables and annotations."""
    found: list[Query] = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                where = f"panel {panel.get('title')!r} target {target.get('refId')}"
                found.append(Query(where, target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query" and isinstance(variable.get("query"), str):
            expr = variable_expression(variable["query"])
            if expr:
                found.append(Query(f"variable {variable['name']!r}", expr))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            found.append(Query(f"annotation {annotation.get('name')!r}", annotation["expr"]))
    return found


def _panels(panels: list) -> Iterator[Mapping]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def variable_expression(query: str) -> str | None:
    """The PromQL inside a Prometheus variable query such as `label_values(expr, label)`.

    None for the forms that read no series (`label_values(label)`, `label_names()`, `metrics(re)`).
    """
    for form in (_LABEL_VALUES, _QUERY_RESULT):
        match = form.match(query)
        if match:
            return match.group(1)
    if re.match(r"^\s*(label_values|label_names|metrics)\s*\(", query):
        return None
    return query


def render(expr: str, variables: Mapping[str, str]) -> str:
    """`expr` with Grafana's variables replaced: `variables` first, then Grafana's built-ins."""
    values = {**GRAFANA_BUILTINS, **variables}

    def value(match: re.Match) -> str:
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return values[name]

    return _GRAFANA_VARIABLE.sub(value, expr)


def _masked(expr: str) -> str:
    """`expr` with the insides of strings and Grafana's variables blanked, keeping every offset.

    So that nothing inside a string ("$model", "a|b", label_replace's arguments) or a variable
    (`${__rate_interval}`) reads as a name.
    """
    text = _STRING.sub(lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1], expr)
    return _GRAFANA_VARIABLE.sub(lambda m: " " * len(m.group(0)), text)


def selectors(expr: str) -> list[Selector]:
    """The series `expr` reads, with the label names of its matchers."""
    text = _masked(expr)
    found: list[Selector] = []

    def selector(match: re.Match) -> str:
        name, body = match.group(1), match.group(2)
        labels = set(_MATCHER.findall(body))
        if not name:  # {__name__="x", ...}: the name is a matcher, its value a (masked) string
            name = _name_matcher(expr[match.start() : match.end()])
            labels.discard("__name__")
        found.append(Selector(name, frozenset(labels)))
        return " " * len(match.group(0))

    text = _SELECTOR.sub(selector, text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(r" \1 ", text)
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        if word.lower() in _KEYWORDS or word in _AGGREGATIONS:
            continue
        if re.match(r"\s*\(", text[match.end() :]):  # a function call
            continue
        found.append(Selector(word, frozenset()))
    return found


def _name_matcher(selector: str) -> str:
    """The metric name of a selector `{__name__="x", ...}`; the selector itself if not `=`."""
    exact = re.search(r'__name__\s*=\s*"([^"]*)"', selector)
    return exact.group(1) if exact else selector.strip()


def grouping_labels(expr: str) -> set[str]:
    """Label names of `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_x (...)`."""
    text = _masked(expr)
    return {
        label.strip()
        for _, labels in _GROUPING.findall(text)
        for label in labels.split(",")
        if label.strip()
    }


def metric_names(expr: str) -> set[str]:
    """Names of the series `expr` reads."""
    return {s.metric for s in selectors(expr)}


def unknown_references(expr: str, series: Mapping[str, frozenset[str]]) -> list[str]:
    """What `expr` names that `series` (metric name -> its label names) does not have.

    An empty list when every metric is in `series`, every matcher names one of that metric's
    labels, and every grouping label belongs to one of the expression's metrics.
    """
    problems = []
    known_labels: set[str] = set(TARGET_LABELS)
    for selector in selectors(expr):
        if selector.metric not in series:
            problems.append(f"metric {selector.metric}")
            continue
        labels = series[selector.metric] | TARGET_LABELS
        known_labels |= labels
        problems += [f"label {selector.metric}{{{x}}}" for x in sorted(selector.labels - labels)]
    if not problems:  # an unknown metric's labels are unknown too: say it once
        problems = [f"grouping label {x}" for x in sorted(grouping_labels(expr) - known_labels)]
    return problems

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from jupyter_modelservice.notebook.resolve import (
    evaluate_cell,
    lookup,
    parse_params,
    resolve_estimator,
    sklearn_estimators,
    split_params,
)


def test_split_params_rejoins_values_with_spaces():
    words = ["MLPClassifier", "X", "y", "hidden_layer_sizes=(64,", "32)", "alpha=0.1"]
    assert split_params(words) == (["MLPClassifier", "X", "y"], ["hidden_layer_sizes=(64, 32)", "alpha=0.1"])
    assert split_params(["M", "df[df.a==1]", "y"]) == (["M", "df[df.a==1]", "y"], [])


def test_parse_params_literals_and_variables():
    ns = {"weights": {0: 1, 1: 3}}
    params = parse_params(["n=5", "name='gini'", "w=weights", "t=(1, 2)", "none=None", "f=-0.5"], ns)
    assert params == {"n": 5, "name": "gini", "w": {0: 1, 1: 3}, "t": (1, 2), "none": None, "f": -0.5}


@pytest.mark.parametrize("item", ["n", "=3", "class=1", "x=unknown_name", "x=1+"])
def test_parse_params_errors(item):
    with pytest.raises(UsageError):
        parse_params([item], {})


def test_lookup_names_and_expressions():
    ns = {"data": {"a": [1, 2, 3]}}
    assert lookup("data", ns, "X") is ns["data"]
    assert lookup("data['a'][1:]", ns, "X") == [2, 3]
    with pytest.raises(UsageError, match="Did you mean 'data'"):
        lookup("dta", ns, "X")


def test_resolve_estimator_sources():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import Ridge

    assert resolve_estimator("RandomForestClassifier", {}) is RandomForestClassifier
    assert resolve_estimator("sklearn.linear_model.Ridge", {}) is Ridge
    model = Ridge(alpha=2)
    assert resolve_estimator("model", {"model": model}) is model
    assert resolve_estimator("RandomForestClassifier", {"RandomForestClassifier": Ridge}) is Ridge
    assert sklearn_estimators() is sklearn_estimators()  # searched once


def test_evaluate_cell_runs_statements_then_returns_the_last_expression():
    ns: dict = {}
    assert evaluate_cell("import math\nx = 2\nmath.sqrt(x * 8)", ns) == 4.0
    assert ns["x"] == 2


def test_parse_params_nested_literals_and_names():
    items = ["class_weight={0: 1, 1: 3}", "sizes=(64, 32)", "grid=[{'a': (1, 2)}, None]", "scaler=s",
             "pair=1,", "neg=-1e-3", "text='a=b, c'", "last=3  # a comment"]
    params = parse_params(items, {"s": "the scaler"})
    assert params == {"class_weight": {0: 1, 1: 3}, "sizes": (64, 32), "grid": [{"a": (1, 2)}, None],
                      "scaler": "the scaler", "pair": (1,), "neg": -1e-3, "text": "a=b, c", "last": 3}
    assert parse_params([], {}) == {}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["n=5", "depth=(3", "m=1"], r"Bad value in 'depth=\(3'"),
        (["n=5", "depth=maxdepth"], r"Bad value in 'depth=maxdepth'.*quote text: depth='maxdepth'"),
        (["n=5", "w={0: weight}"], r"Bad value in 'w=\{0: weight\}'"),  # names only as a whole value
        (["n=5", "m=1), (2"], r"'m=1\), \(2'"),
        (["n=5", "n=6"], r"Parameter 'n' is given twice"),
        (["n=5", "lambda=1"], r"Expected key=value, got 'lambda=1'"),
        (["n="], r"Bad value in 'n='"),
    ],
)
def test_parse_params_errors_name_the_bad_pair(items, message):
    with pytest.raises(UsageError, match=message):
        parse_params(items, {"weight": 2})

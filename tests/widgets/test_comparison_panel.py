"""ComparisonPanel driven headlessly: pick versions and a metric, read the table and chart."""

from __future__ import annotations

import pytest

from jupyter_modelservice import InvalidInputError
from jupyter_modelservice.widgets import ComparisonPanel

from .helpers import html_of, pngs, stream_text


def options(panel):
    return [value for _, value in panel.models.options]


@pytest.fixture
def counted(registry, monkeypatch):
    """``registry`` whose compare_models records the refs it evaluates."""
    calls = []
    original = registry.compare_models

    def spy(refs, X, y, **kwargs):
        calls.append(list(refs))
        return original(refs, X, y, **kwargs)

    monkeypatch.setattr(registry, "compare_models", spy)
    registry.calls = calls
    return registry


def test_lists_versions_and_waits_for_a_selection(registry, iris):
    panel = ComparisonPanel(registry, *iris)
    assert options(panel) == ["tree:1", "ridge:1", "knn:1", "lr:1", "rf:2", "rf:1"]
    assert panel.listed.value == "6 versions"
    assert "Select one or more model versions" in stream_text(panel.message)
    assert panel.output.outputs == () and panel.result_ is None
    assert panel.x_name not in panel.children[2].children  # data given: no name boxes


def test_selection_shows_the_table_and_chart_and_caches_evaluations(counted, iris):
    panel = ComparisonPanel(counted, *iris)
    panel.models.value = ("rf:2", "lr:1")
    assert counted.calls == [["rf:2", "lr:1"]]
    html = html_of(panel.output)
    assert "Comparison of 2 models" in html and "sorted by accuracy" in html
    assert len(pngs(panel.output)) == 1
    assert list(panel.metric.options) == ["accuracy", "precision", "recall", "f1_score", "roc_auc"]
    assert panel.metric.value == "accuracy"
    assert stream_text(panel.message).startswith("2 version(s): best ")
    assert "Evaluating · 2/2 models" in stream_text(panel.progress)

    panel.models.value = ("rf:2", "lr:1", "knn:1")  # only the new version is evaluated
    assert counted.calls[-1] == ["knn:1"]
    assert "Comparison of 3 models" in html_of(panel.output)

    panel.metric.value = "f1_score"  # re-sorted from the cache
    assert len(counted.calls) == 2
    assert "sorted by f1_score" in html_of(panel.output)
    assert panel.result_.sort_by == "f1_score"
    values = list(panel.result_.frame["f1_score"])
    assert values == sorted(values, reverse=True)


def test_regression_metrics_and_lower_is_better(registry, diabetes):
    from sklearn.linear_model import Lasso

    registry.train_model(Lasso, *diabetes, model_id="lasso", alpha=0.5)
    panel = ComparisonPanel(registry, *diabetes)
    panel.models.value = ("ridge:1", "lasso:1")
    assert list(panel.metric.options) == ["r2_score", "rmse", "mae", "mse"]
    panel.metric.value = "rmse"
    assert "lower is better" in html_of(panel.output)
    values = list(panel.result_.frame["rmse"])
    assert values == sorted(values)


def test_mixed_tasks_give_a_one_line_error(registry, iris):
    panel = ComparisonPanel(registry, *iris)
    panel.models.value = ("rf:1", "ridge:1")
    text = stream_text(panel.message)
    assert text.startswith("Error: ") and "Traceback" not in text
    assert panel.output.outputs == ()


def test_data_named_from_the_namespace(registry, namespace):
    panel = ComparisonPanel(registry, namespace=namespace)
    assert panel.x_name in panel.children[2].children
    panel.x_name.value = "X_nope"
    panel.models.value = ("lr:1",)
    assert stream_text(panel.message) == "Error: No variable named 'X_nope' (for X) in the notebook.\n"
    panel.x_name.value = "X_test"
    assert "Comparison of 1 models" in html_of(panel.output)
    panel.x_name.value, panel.y_name.value = "X_reg", "y_reg"  # other data: evaluated again
    panel.models.value = ("ridge:1",)
    assert "R²" in html_of(panel.output)


def test_search_narrows_the_list_and_keeps_the_selection(registry, iris):
    panel = ComparisonPanel(registry, *iris, limit=3)
    assert options(panel) == ["tree:1", "ridge:1", "knn:1"]
    assert panel.listed.value == "3 of 6 versions listed"
    panel.search.value = "rf"
    assert options(panel) == ["rf:2", "rf:1"]
    panel.models.value = ("rf:1",)
    registry.train_model(registry.get_model("rf:1"), *iris, model_id="rf")
    panel.reload_button.click()
    assert options(panel) == ["rf:3", "rf:2", "rf:1"] and panel.models.value == ("rf:1",)


def test_test_data_must_come_in_pairs(registry, iris):
    with pytest.raises(InvalidInputError):
        ComparisonPanel(registry, X_test=iris[0])


def test_plain_text_fallback_shows_the_comparison(registry, iris):
    panel = ComparisonPanel(registry, *iris)
    assert panel._repr_mimebundle_()["text/plain"] == "Comparison panel: 6 versions, none chosen"
    panel.models.value = ("lr:1",)
    text = panel._repr_mimebundle_()["text/plain"]
    assert text.startswith("Comparison panel: 6 versions\nComparison of 1 models") and "lr" in text

"""ComparisonPanel driven headlessly: pick versions and a metric, read the table and chart."""

from __future__ import annotations

import pytest

from jupyter_modelservice import InvalidInputError
from jupyter_modelservice.widgets import ComparisonPanel

from .helpers import html_of, pngs, stream_text


def options(panel):
    return [value for _, value in panel.models.options]


def metric_row(panel):
    """The toolbar holding the metric menu (and the data name boxes when the data are named)."""
    return next(child for child in panel.children if panel.metric in getattr(child, "children", ()))


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
    assert panel.x_name not in metric_row(panel).children  # data given: no name boxes


def test_selection_shows_the_table_and_chart_and_caches_evaluations(counted, iris):
    panel = ComparisonPanel(counted, *iris)
    panel.models.value = ("rf:2", "lr:1")
    assert counted.calls == [["rf:2", "lr:1"]]
    html = html_of(panel.output)
    assert "Comparison of 2 models" in html and "sorted by accuracy" in html
    assert len(pngs(panel.output)) == 1
    assert list(panel.metric.options) == [("accuracy", "accuracy"), ("precision", "precision"),
                                          ("recall", "recall"), ("F1", "f1_score"), ("ROC AUC", "roc_auc")]
    assert panel.metric.value == "accuracy"
    assert stream_text(panel.message).startswith("2 version(s): best ")

    panel.models.value = ("rf:2", "lr:1", "knn:1")  # only the new version is evaluated
    assert counted.calls[-1] == ["knn:1"]
    assert "Comparison of 3 models" in html_of(panel.output)

    panel.metric.value = "f1_score"  # re-sorted from the cache
    assert len(counted.calls) == 2
    assert "sorted by F1" in html_of(panel.output)  # named as in the table
    assert panel.result_.sort_by == "f1_score"
    values = list(panel.result_.frame()["f1_score"])
    assert values == sorted(values, reverse=True)


def test_regression_metrics_and_lower_is_better(registry, diabetes):
    from sklearn.linear_model import Lasso

    registry.train_model(Lasso, *diabetes, model_id="lasso", alpha=0.5)
    panel = ComparisonPanel(registry, *diabetes)
    panel.models.value = ("ridge:1", "lasso:1")
    assert [value for _, value in panel.metric.options] == ["r2_score", "rmse", "mae", "mse"]
    assert [label for label, _ in panel.metric.options] == ["R²", "RMSE", "MAE", "MSE"]
    panel.metric.value = "rmse"
    assert "lower is better" in html_of(panel.output)
    values = list(panel.result_.frame()["rmse"])
    assert values == sorted(values)


def test_mixed_tasks_give_a_one_line_error(registry, iris):
    panel = ComparisonPanel(registry, *iris)
    panel.models.value = ("rf:1", "ridge:1")
    text = stream_text(panel.message)
    assert text.startswith("Error: ") and "Traceback" not in text
    assert panel.output.outputs == ()


def test_data_named_from_the_namespace(registry, namespace):
    panel = ComparisonPanel(registry, namespace=namespace)
    assert panel.x_name in metric_row(panel).children
    panel.x_name.value = "X_nope"
    panel.models.value = ("lr:1",)
    assert stream_text(panel.message) == "Error: No variable named 'X_nope' (for X) in the notebook.\n"
    panel.x_name.value = "X_test"
    assert "Comparison of 1 model" in html_of(panel.output)
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
    assert text.startswith("Comparison panel: 6 versions\nComparison of 1 model") and "lr" in text


def test_the_status_line_counts_every_version_compared(counted, iris):
    panel = ComparisonPanel(counted, *iris)
    panel.models.value = ("rf:2", "lr:1")
    lines = []
    panel.message.observe(lambda change: lines.append(stream_text(panel.message)), names="outputs")
    panel.models.value = ("rf:2", "lr:1", "knn:1")  # one new version, three compared
    assert counted.calls[-1] == ["knn:1"]
    progress = [line for line in lines if line.startswith("Evaluating")]
    assert all("/3 models" in line for line in progress)  # never "1/1": three are compared
    assert any(line.startswith("Evaluating: 2/3 models") for line in progress)  # two were cached
    assert progress[-1].startswith("Evaluating · 3/3 models")
    assert all(line.count("\n") <= 1 for line in lines)
    assert stream_text(panel.message).startswith("3 version(s): best ")  # the latest line only


def test_an_error_replaces_the_table_it_invalidates(registry, iris):
    panel = ComparisonPanel(registry, *iris)
    panel.models.value = ("rf:1", "lr:1")
    assert "Comparison of 2 models" in html_of(panel.output) and panel.result_ is not None
    panel.models.value = ("rf:1", "lr:1", "ridge:1")  # a regression model among classifiers
    assert stream_text(panel.message).startswith("Error: ")
    assert panel.output.outputs == () and panel.result_ is None


def test_the_metric_menu_and_the_chart_follow_each_other(registry, iris):
    panel = ComparisonPanel(registry, *iris)
    panel.models.value = ("rf:1", "lr:1", "knn:1")
    first = pngs(panel.output)
    assert panel.metric.label == "accuracy"
    panel.metric.value = "f1_score"
    assert panel.metric.label == "F1" and "best" in stream_text(panel.message) and "by F1" in stream_text(panel.message)
    second = pngs(panel.output)
    assert first != second  # the chart is drawn for the metric ranked by
    ticks = [t.get_text() for t in panel.result_.figure_.axes[0].get_xticklabels()]
    assert ticks[0] == "F1"


def test_positional_test_data_without_a_service(registry, iris, monkeypatch):
    from jupyter_modelservice.notebook import panel_base

    monkeypatch.setattr(panel_base, "notebook_service", lambda: registry)
    panel = ComparisonPanel(*iris)
    assert panel.service is registry and panel.X_test is iris[0] and panel.y_test is iris[1]
    panel = ComparisonPanel(X_test=iris[0], y_test=iris[1])
    assert panel.service is registry


def test_displayed_it_leaves_a_saved_view_beside_the_widget(registry, iris, shell_display):
    panel = ComparisonPanel(registry, *iris)
    panel.models.value = ("rf:2", "lr:1")
    widget, saved = shell_display(panel)
    assert "application/vnd.jupyter.widget-view+json" in widget
    assert widget["text/plain"].startswith("Comparison panel (interactive")
    assert set(saved) == {"text/html", "text/plain"}
    assert 'class="jms-snapshot"' in saved["text/html"] and "Comparison of 2 models" in saved["text/html"]
    assert saved["text/plain"].startswith("Comparison panel: 6 versions\nComparison of 2 models")


def test_the_saved_view_follows_what_the_panel_shows(registry, iris):
    from IPython.display import display
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    start_ipython()
    panel = ComparisonPanel(registry, *iris)
    with capture_output() as cap:
        display(panel)
        panel.models.value = ("rf:2", "lr:1")
        panel.models.value = ("lr:1",)
    saved = [o.data for o in cap.outputs if 'class="jms-snapshot"' in o.data.get("text/html", "")]
    assert "none chosen" in saved[0]["text/html"]  # what it showed when displayed
    assert "Comparison of 2 models" in saved[1]["text/html"]
    assert "Comparison of 1 model<" in saved[-1]["text/html"] and saved[-1]["text/plain"].endswith(
        panel.result_.to_text())


def test_the_listed_total_is_counted_up_to_a_cap_and_only_when_more_exist(registry, iris, monkeypatch):
    from jupyter_modelservice.notebook import comparison_panel

    counted = []
    real_count = registry.registry.count
    monkeypatch.setattr(registry.registry, "count", lambda **kw: counted.append(kw) or real_count(**kw))
    monkeypatch.setattr(comparison_panel, "COUNT_CAP", 4)
    panel = ComparisonPanel(registry, *iris, limit=3)
    assert panel.listed.value == "3 of 4+ versions listed"  # 6 versions, counted no further than 5
    assert counted == [{"search": None, "limit": 5}]
    panel.search.value = "rf"  # 2 matches: all on screen, nothing to count
    assert panel.listed.value == "2 versions" and len(counted) == 1
    monkeypatch.setattr(comparison_panel, "COUNT_CAP", 10)
    panel.search.value = ""
    assert panel.listed.value == "3 of 6 versions listed" and counted[-1]["limit"] == 11


def test_progress_counts_the_cached_versions_as_done(registry, iris, monkeypatch):
    panel = ComparisonPanel(registry, *iris)
    panel.models.value = ("rf:2",)
    made = []
    make = panel.actions.progress
    monkeypatch.setattr(panel.actions, "progress", lambda *a: made.append(make(*a)) or made[-1])
    panel.models.value = ("rf:2", "lr:1")
    [bar] = made
    assert (bar.description, bar.done, bar.total, bar.closed) == ("Evaluating", 2, 2, True)

"""What a saved notebook shows without the stylesheet, and cards that follow what the user chose.

A notebook opened untrusted (another machine, GitHub, an HTML export that strips ``<style>``) keeps
only inline styles: the layout (sections side by side, tables scrolling in their own box, cells
aligned) must be there. The comparison chart follows the metric the table is ranked by, and the
train card lists the parameters that were set before those left at their defaults.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from jupyter_modelservice.display import ComparisonResult, EvaluationResult, TrainResult

from .checks import without_styles


def _styles(html: str, css_class: str) -> list[str]:
    """The inline styles of the elements carrying ``css_class``."""
    return re.findall(rf'class="[^"]*\b{css_class}\b[^"]*" style="([^"]*)"', html)


def _without_stylesheet(html: str) -> str:
    return re.sub(r"<style>.*?</style>", "", html, flags=re.S)


@pytest.fixture
def classification_frame():
    return pd.DataFrame([
        {"model_id": "rf", "version": 1, "model_class": "RandomForestClassifier", "task_type": "classification",
         "accuracy": 0.95, "precision": 0.95, "recall": 0.94, "f1_score": 0.93, "roc_auc": 0.99},
        {"model_id": "lr", "version": 2, "model_class": "LogisticRegression", "task_type": "classification",
         "accuracy": 0.97, "precision": 0.96, "recall": 0.97, "f1_score": 0.92, "roc_auc": 0.98},
    ])


def test_evaluation_keeps_its_layout_without_the_stylesheet(classification_eval):
    html = _without_stylesheet(EvaluationResult(classification_eval).to_html())
    assert "<style>" not in html
    rows = _styles(html, "jms-row")
    assert rows and all("display:flex" in s and "flex-wrap:wrap" in s for s in rows)  # side by side
    tables = re.findall(r'<div class="jms-scroll" style="([^"]*)"><table', html)
    assert len(tables) == html.count("<table") >= 2  # every table in its own scrolling box
    assert all("overflow-x:auto" in s for s in tables)
    cells = re.findall(r"<t[dh](?: [^>]*)?>", html)
    assert cells and all("padding:" in c and "white-space:nowrap" in c for c in cells)
    assert all("text-align:right" in c for c in re.findall(r"<td style[^>]*>", html))  # numbers
    # Only layout is inline: colours stay in the stylesheet, which follows the theme.
    assert not re.search(r'style="[^"]*(color|background)', html)


def test_comparison_table_scrolls_inside_its_own_box(classification_frame):
    html = ComparisonResult(classification_frame).to_html()
    match = re.search(r'<div class="jms-scroll" style="([^"]*)"><table class="jms-table"', html)
    assert match and "overflow-x:auto" in match.group(1) and "max-width:100%" in match.group(1)


def test_the_chart_follows_the_metric_the_table_is_ranked_by(classification_frame):
    by_accuracy = ComparisonResult(classification_frame, sort_by="accuracy").plot()
    by_f1 = ComparisonResult(classification_frame, sort_by="f1_score").plot()
    ticks = [t.get_text() for t in by_f1.figure_.axes[0].get_xticklabels()]
    assert ticks[0] == "F1" and sorted(ticks) == sorted(
        t.get_text() for t in by_accuracy.figure_.axes[0].get_xticklabels())
    assert [t.get_text() for t in by_accuracy.figure_.axes[0].get_xticklabels()][0] == "accuracy"
    assert "ranked by F1" in by_f1.figure_.axes[0].get_title()
    assert by_accuracy.to_png() != by_f1.to_png()


def test_a_regression_chart_puts_the_ranked_metric_first():
    frame = pd.DataFrame({"model_id": ["a", "b"], "version": [1, 1], "task_type": ["regression"] * 2,
                          "r2_score": [0.5, 0.4], "rmse": [50.0, 40.0], "mae": [40.0, 30.0],
                          "mse": [2500.0, 1600.0]})
    result = ComparisonResult(frame, sort_by="mae").plot()
    titles = [ax.get_title() for ax in result.figure_.axes]
    assert titles[0] == "MAE ↓ (ranked)" and len(titles) == 4
    assert list(result.frame()["model_id"]) == ["b", "a"]


@pytest.fixture
def forest_defaults():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier().get_params()


def test_train_card_lists_the_parameters_set_first_and_folds_the_defaults(train_data, forest_defaults):
    params = {**forest_defaults, "n_estimators": 300, "max_depth": 4, "random_state": 0}
    train_data["model_params"] = params
    result = TrainResult(train_data, defaults=forest_defaults)
    assert result.changed_params() == {"max_depth": "4", "n_estimators": "300", "random_state": "0"}
    html = without_styles(result.to_html())
    shown, folded = html.split("<details>", 1)
    assert "Parameters set (3)" in shown
    for name in ("max_depth", "n_estimators", "random_state"):
        assert f">{name}</th>" in shown and f">{name}</th>" not in folded
    rest = len(params) - 3
    assert f"<summary>{rest} parameters at their defaults</summary>" in folded
    assert ">criterion</th>" in folded and ">criterion</th>" not in shown
    text = result.to_text()
    assert f"params: max_depth=4, n_estimators=300, random_state=0 (+{rest} at their defaults)" in text
    assert "criterion" not in text


def test_train_card_when_every_parameter_is_at_its_default(train_data, forest_defaults):
    train_data["model_params"] = dict(forest_defaults)
    result = TrainResult(train_data, defaults=forest_defaults)
    assert result.changed_params() == {}
    assert "all at their defaults" in result.to_html() and "params: all at their defaults" in result.to_text()


def test_train_card_without_known_defaults_folds_every_parameter(train_data):
    html = TrainResult(train_data).to_html()
    assert "<summary>Parameters (3)</summary>" in html and "Parameters set" not in html

"""Result objects rendered from literal service outputs: text, HTML and PNG content."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from jupyter_modelservice.display import (
    ComparisonResult,
    CVResult,
    EvaluationResult,
    ImportanceResult,
    RegistryTable,
    ServiceConfig,
    TrainResult,
)

from .checks import best_cells, html_image, png_bytes, without_styles

# -- training -------------------------------------------------------------------


def test_train_result_without_cv_has_text_and_html_but_no_chart(train_data):
    result = TrainResult(train_data)
    bundle = result._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    text = bundle["text/plain"]
    assert "Trained rf:2: RandomForestClassifier (classification)" in text
    assert "validation score    0.9561" in text
    assert "n_estimators=100" in text
    html = bundle["text/html"]
    assert "<code>rf</code>" in html and "version 2" in html
    assert "0.9561" in html and "0.9900" in html
    assert "saved (joblib)" in html
    assert "2025-01-02 03:04:05" in html
    assert "<style>" in html and 'class="jms jms-train"' in html
    assert result.data["data_fingerprint"] == train_data["data_fingerprint"]
    assert result.ref == "rf:2"


def test_train_result_with_cv_embeds_the_fold_chart(train_data, cv_data):
    result = TrainResult(train_data, CVResult(cv_data))
    bundle = result._repr_mimebundle_()
    png = png_bytes(bundle)
    assert html_image(bundle["text/html"]) == png
    assert "5-fold cross-validation of RandomForestClassifier" in bundle["text/plain"]
    assert "accuracy 0.9500 ± 0.0063" in bundle["text/plain"]


def test_html_escapes_values_from_the_registry(train_data):
    train_data.update(model_id="a<b>", model_class="<script>alert('x')</script>",
                      model_params={"<p>": "<v>"})
    html = TrainResult(train_data).to_html()
    assert "<script>" not in html and "<p>" not in html and "a<b>" not in html
    assert "&lt;script&gt;" in html and "a&lt;b&gt;" in html


def test_cv_result_single_scoring(cv_data):
    result = CVResult(cv_data)
    assert result.n_folds == 5
    assert list(result.frame().columns) == ["accuracy", "fit_time", "score_time"]
    assert list(result.frame().index) == [1, 2, 3, 4, 5]
    text = result.to_text()
    assert "0.9600" in text and "0.13 s" in text and "10.0 ms" in text
    png_bytes(result._repr_mimebundle_())


def test_cv_result_several_scorings():
    data = {
        "model_class": "Ridge", "mean_score": 0.5, "std_score": 0.02, "cv_scores": [0.48, 0.52],
        "scoring": ["r2", "neg_root_mean_squared_error"], "cv_folds": 2,
        "fit_time": [0.01, 0.01], "score_time": [0.01, 0.01],
        "scores": {"r2": {"mean": 0.5, "std": 0.02, "cv_scores": [0.48, 0.52]},
                   "neg_root_mean_squared_error": {"mean": -55.0, "std": 1.0,
                                                   "cv_scores": [-56.0, -54.0]}},
    }
    result = CVResult(data)
    assert list(result.scores) == ["r2", "neg_root_mean_squared_error"]
    assert result.frame()["neg_root_mean_squared_error"].tolist() == [-56.0, -54.0]
    assert "neg_root_mean_squared_error -55.00 ± 1.0000" in result.to_text()
    png_bytes(result._repr_mimebundle_())


def test_mime_bundle_honours_include_and_does_not_draw_needlessly(train_data, cv_data):
    result = TrainResult(train_data, CVResult(cv_data))
    bundle = result._repr_mimebundle_(include=["text/plain"])
    assert set(bundle) == {"text/plain"}
    assert "figure_" not in result.__dict__
    bundle = result._repr_mimebundle_(exclude=["text/html"])
    assert set(bundle) == {"text/plain", "image/png"}
    assert result.to_png() is result.to_png()  # drawn once, then cached


# -- evaluation -------------------------------------------------------------------


def test_classification_evaluation_with_roc(classification_eval):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 100)
    y_score = np.clip(y_true * 0.5 + rng.random(100) * 0.6, 0, 1)
    result = EvaluationResult(classification_eval, y_true=y_true, y_score=y_score, pos_label=1)
    bundle = result._repr_mimebundle_()
    html = bundle["text/html"]
    assert "Evaluation of rf:1 on 100 samples (classification)" in html
    assert "<td>46</td>" in without_styles(html) and "<td>45</td>" in without_styles(html)  # confusion matrix
    assert "0.9712" in html  # ROC AUC
    assert "macro avg" in html
    wide = png_bytes(bundle)
    assert "Confusion matrix" in bundle["text/plain"]
    report_row = next(line for line in bundle["text/plain"].splitlines() if line.startswith("0  "))
    assert report_row.split()[-1] == "50"  # support shown as a count, not 50.0000
    # Without scores there is no ROC panel: the chart is narrower.
    narrow = EvaluationResult(classification_eval).to_png()
    assert _png_width(narrow) < _png_width(wide)
    assert result.frame("confusion_matrix").loc[1, 0] == 5
    assert result.frame().loc["rf:1", "accuracy"] == 0.91


def test_regression_evaluation_charts(regression_eval):
    rng = np.random.default_rng(1)
    y_true = rng.normal(150, 50, 80)
    y_pred = y_true + rng.normal(0, 20, 80)
    result = EvaluationResult(regression_eval, y_true=y_true, y_pred=y_pred)
    bundle = result._repr_mimebundle_()
    png_bytes(bundle)
    assert "RMSE" in bundle["text/html"] and "53.85" in bundle["text/html"]
    assert "2,900.2" in bundle["text/plain"]
    assert "Confusion" not in bundle["text/plain"]
    assert "image/png" not in EvaluationResult(regression_eval)._repr_mimebundle_()


def test_evaluation_from_estimator_computes_chart_inputs():
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = X @ [1.0, 2.0]
    regression = EvaluationResult.from_estimator(LinearRegression().fit(X, y), X, y, model_id="lin", version=1)
    assert np.allclose(regression.y_pred, y)
    assert regression.frame().loc["lin:1", "r2_score"] == pytest.approx(1.0)
    labels = (y > y.mean()).astype(int)
    classifier = LogisticRegression().fit(X, labels)
    classification = EvaluationResult.from_estimator(classifier, X, labels)
    assert classification.pos_label == 1 and len(classification.y_score) == 20
    assert classification.data["model_class"] == "LogisticRegression"


# -- comparison -------------------------------------------------------------------


@pytest.fixture
def classification_frame():
    return pd.DataFrame([
        {"model_id": "rf", "version": 1, "model_class": "RandomForestClassifier",
         "task_type": "classification", "accuracy": 0.95, "precision": 0.95, "recall": 0.94,
         "f1_score": 0.95, "roc_auc": 0.99},
        {"model_id": "lr", "version": 2, "model_class": "LogisticRegression",
         "task_type": "classification", "accuracy": 0.97, "precision": 0.96, "recall": 0.97,
         "f1_score": 0.97, "roc_auc": None},
        {"model_id": "svc", "version": 1, "model_class": "SVC", "task_type": "classification",
         "accuracy": 0.91, "precision": 0.92, "recall": 0.91, "f1_score": 0.9, "roc_auc": 0.97},
    ])


def test_comparison_is_sorted_best_first_with_best_values_highlighted(classification_frame):
    result = ComparisonResult(classification_frame)
    assert result.frame()["model_id"].tolist() == ["lr", "rf", "svc"]
    assert result.best == "lr:2"
    bundle = result._repr_mimebundle_()
    assert best_cells(bundle["text/html"]) == ["0.9700", "0.9600", "0.9700", "0.9700", "0.9900"]
    assert "sorted by accuracy (higher is better)" in bundle["text/html"]
    assert "0.9900*" in bundle["text/plain"] and "0.9700*" in bundle["text/plain"]
    png_bytes(bundle)


def test_comparison_error_metrics_rank_lowest_first():
    frame = pd.DataFrame([
        {"model_id": "a", "version": 1, "model_class": "Ridge", "task_type": "regression",
         "mse": 3000.0, "rmse": 54.77, "mae": 44.0, "r2_score": 0.45},
        {"model_id": "b", "version": 1, "model_class": "Lasso", "task_type": "regression",
         "mse": 2900.0, "rmse": 53.85, "mae": 45.0, "r2_score": 0.47},
    ])
    result = ComparisonResult(frame, sort_by="mae")
    assert result.frame()["model_id"].tolist() == ["a", "b"]
    html = result.to_html()
    assert sorted(best_cells(html)) == sorted(["0.4700", "53.85", "44.00", "2,900.0"])
    assert "sorted by MAE (lower is better)" in html
    assert ComparisonResult(frame, sort_by="rmse").best == "b:1"
    png_bytes(result._repr_mimebundle_())


def test_comparison_ties_are_all_highlighted_and_broken_by_the_next_metric(classification_frame):
    classification_frame.loc[1, "accuracy"] = 0.95  # lr now ties rf on accuracy
    result = ComparisonResult(classification_frame)
    assert result.frame()["model_id"].tolist() == ["lr", "rf", "svc"]  # lr has the better precision
    assert best_cells(result.to_html()).count("0.9500") == 2


def _tested(frame, p_values, attrs):
    """``frame`` as compare_models returns it: with paired tests of its first metric."""
    frame = frame.sort_values("accuracy", ascending=False, kind="stable").reset_index(drop=True)
    frame["ci_low"], frame["ci_high"] = frame["accuracy"] - 0.02, frame["accuracy"] + 0.02
    frame["p_value"] = p_values
    frame["tied_with_best"] = [True, *(p >= 0.05 for p in p_values[1:])]
    frame.attrs.update({"metric": "accuracy", "test": "exact McNemar", "alpha": 0.05, "n_samples": 143,
                        **attrs})
    return frame


def test_comparison_names_a_winner_only_when_it_is_significantly_better(classification_frame):
    clear = ComparisonResult(_tested(classification_frame, [float("nan"), 0.004, 0.0002], {}))
    assert clear.winner == "lr:2" and clear.tied == ["lr:2"]
    assert clear.verdict() == ("Best: lr:2 by accuracy, significantly better than every other model "
                               "(exact McNemar, Holm-adjusted, n = 143, p ≤ 0.004).")
    assert clear.data[1]["p_value"] == 0.004
    text = clear.to_text()
    assert "accuracy 95% CI" in text and "0.9500–0.9900" in text and "< 0.001" in text

    tie = ComparisonResult(_tested(classification_frame, [float("nan"), 0.5, 0.01], {}))
    assert tie.winner is None and tie.tied == ["lr:2", "rf:1"] and tie.best == "lr:2"
    assert tie.verdict() == ("No significant winner by accuracy: lr:2 is statistically tied with "
                             "rf:1 (p = 0.5) (exact McNemar, Holm-adjusted, n = 143, alpha = 0.05).")
    assert "no significant winner" in tie.summary()
    assert tie.verdict() in tie._repr_mimebundle_()["text/html"].replace("&#x27;", "'")
    png_bytes(tie._repr_mimebundle_())

    resorted = ComparisonResult(tie.frame(), sort_by="roc_auc")  # the tests were of accuracy: not shown
    assert not resorted.tested and resorted.verdict() == "" and resorted.winner is None


def test_comparison_rejects_an_unknown_sort_metric(classification_frame):
    with pytest.raises(ValueError, match="choose one of accuracy, precision, recall, f1_score, roc_auc"):
        ComparisonResult(classification_frame, sort_by="rmse")


# -- importance -------------------------------------------------------------------


def test_importance_shows_the_top_features_and_keeps_all():
    values = {f"f{i}": v for i, v in enumerate([0.4, 0.3, -0.2, 0.05, 0.05])}
    result = ImportanceResult(values, ref="lr:1", top=3)
    bundle = result._repr_mimebundle_()
    assert "Feature importance of lr:1 (top 3 of 5 features)" in bundle["text/plain"]
    assert "f2" in bundle["text/plain"] and "f3" not in bundle["text/plain"]
    assert "<td>-0.2000</td>" in without_styles(bundle["text/html"])
    assert len(result.frame()) == 5 and result.data == values
    png_bytes(bundle, min_bytes=3000)
    with pytest.raises(ValueError):
        ImportanceResult(values, top=0)


# -- registry ---------------------------------------------------------------------


def test_registry_table_rows_and_badges():
    rows = [
        {"model_id": "rf", "version": 2, "model_class": "RandomForestClassifier",
         "task_type": "classification", "status": "production", "scoring": "accuracy",
         "train_score": 1.0, "validation_score": 0.9561,
         "training_date": "2025-01-02T03:04:05.1+00:00", "file_format": "joblib",
         "metrics": None, "tags": {}},
        {"model_id": "<x>", "version": 1, "model_class": "Ridge", "task_type": "regression",
         "status": "trained", "scoring": "r2", "train_score": 0.5, "validation_score": None,
         "training_date": "2025-01-01T00:00:00+00:00", "file_format": None},
    ]
    table = RegistryTable(rows, description="search 'r'")
    bundle = table._repr_mimebundle_()
    html = bundle["text/html"]
    assert '<span class="jms-badge jms-status-production">production</span>' in html
    assert "&lt;x&gt;" in html and "<x>" not in html
    assert "2025-01-02 03:04" in html and "0.9561" in html
    assert "2 model versions (search 'r')" in bundle["text/plain"]
    assert "image/png" not in bundle
    assert list(table.frame()["model_id"]) == ["rf", "<x>"]


def test_empty_registry_table():
    table = RegistryTable([])
    assert "No model versions match" in table.to_html()
    assert table.to_text() == "0 model versions: no model versions match."


def test_service_config():
    config = ServiceConfig({"db_type": "sqlite", "db_url": None, "models_directory": "/data/models"})
    assert "/data/models" in config.to_html() and "sqlite" in config.to_text()


# -- import hygiene ---------------------------------------------------------------


def test_display_is_pure_and_draws_without_pyplot():
    code = textwrap.dedent(
        """
        import sys
        import jupyter_modelservice.display as d
        heavy = [m for m in ("IPython", "matplotlib", "pandas", "sklearn") if m in sys.modules]
        assert not heavy, heavy
        import matplotlib
        backend = matplotlib.rcParams._get_backend_or_none()
        cv = {"model_class": "M", "mean_score": 0.5, "std_score": 0.1, "cv_scores": [0.4, 0.6],
              "scoring": "accuracy", "cv_folds": 2, "fit_time": [0.1, 0.1], "score_time": [0.1, 0.1]}
        assert d.CVResult(cv).to_png().startswith(b"\\x89PNG")
        assert "matplotlib.pyplot" not in sys.modules
        assert "IPython" not in sys.modules
        assert matplotlib.rcParams._get_backend_or_none() == backend
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")

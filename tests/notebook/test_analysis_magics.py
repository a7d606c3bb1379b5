"""%evaluate, %compare and %importance through a real IPython shell."""

from __future__ import annotations

import pytest

from jupyter_modelservice.display import ComparisonResult, EvaluationResult, ImportanceResult

from ..display.checks import best_cells, html_image, png_bytes, without_styles


@pytest.fixture
def trained(classification_data, run):
    """Three saved classifiers: forest, logreg, nb."""
    for line in (
        "RandomForestClassifier X_train y_train --id forest -q n_estimators=20 random_state=0",
        "LogisticRegression X_train y_train --id logreg -q solver='liblinear'",
        "GaussianNB X_train y_train --id nb -q",
    ):
        run(classification_data, "train", line)
    return classification_data


def test_evaluate_classification(trained, run):
    result, cap = run(trained, "evaluate", "forest X_test y_test")
    assert isinstance(result, EvaluationResult)
    bundle = cap.outputs[0].data
    html = bundle["text/html"]
    assert "Evaluation of forest:1 on 171 samples (classification)" in html
    assert f"{result.data['accuracy']:.4f}" in html
    (tn, fp), (fn, tp) = result.data["confusion_matrix"]
    plain = without_styles(html)
    assert f"<td>{tn}</td><td>{fp}</td>" in plain and f"<td>{fn}</td><td>{tp}</td>" in plain
    png = png_bytes(bundle)
    assert html_image(html) == png
    assert result.y_score is not None  # binary with probabilities: ROC curve drawn
    assert "Confusion matrix" in bundle["text/plain"]


def test_evaluate_a_version_and_task(trained, run):
    run(trained, "train", "GaussianNB X_train y_train --id nb -q var_smoothing=1e-3")
    result, _ = run(trained, "evaluate", "nb:1 X_test y_test --task classification -q")
    assert result.ref == "nb:1"


def test_evaluate_regression(regression_data, run):
    run(regression_data, "train", "Ridge Xr_train yr_train --id ridge -q")
    result, cap = run(regression_data, "evaluate", "ridge Xr_test yr_test")
    bundle = cap.outputs[0].data
    assert f"{result.data['rmse']:.2f}" in bundle["text/html"]
    assert "RMSE" in bundle["text/plain"]
    assert len(result.y_pred) == len(regression_data.user_ns["yr_test"])
    png_bytes(bundle)


def test_compare_ranks_and_highlights(trained, run):
    result, cap = run(trained, "compare", "nb logreg forest X_test y_test -o cmp")  # worst first
    assert isinstance(result, ComparisonResult)
    assert trained.user_ns["cmp"] is result
    frame = result.frame()
    # the reverse of the order given, so an unsorted table shows; forest and logreg tie on accuracy
    # (0.9298) and the next metric ranks the forest first
    assert list(frame["model_id"]) == ["forest", "logreg", "nb"]
    assert list(frame["accuracy"]) == sorted(frame["accuracy"], reverse=True)
    assert result.best == f"{frame.loc[0, 'model_id']}:1"
    bundle = cap.outputs[-1].data
    html = bundle["text/html"]
    assert f"{frame['accuracy'].max():.4f}" in best_cells(html)
    for model_id in ("forest", "logreg", "nb"):
        assert f">{model_id}</td>" in html
    png_bytes(bundle)
    assert "Evaluating · 3/3 models" in cap.stdout


def test_compare_sort_by_an_error_metric(regression_data, run):
    run(regression_data, "train", "Ridge Xr_train yr_train --id ridge -q")
    run(regression_data, "train", "DecisionTreeRegressor Xr_train yr_train --id tree -q max_depth=2 random_state=0")
    result, _ = run(regression_data, "compare", "tree ridge Xr_test yr_test --sort mae -q")
    assert list(result.frame()["model_id"]) == ["ridge", "tree"]  # not the order given
    assert list(result.frame()["mae"]) == sorted(result.frame()["mae"]) and result.frame()["mae"].is_unique
    assert "lower is better" in result.to_html()


def test_importance_top_features(trained, run):
    result, cap = run(trained, "importance", "forest --top 5")
    assert isinstance(result, ImportanceResult)
    assert len(result.top_features) == 5 and len(result.data) == 30
    first = next(iter(result.data))
    assert first in trained.user_ns["X_train"].columns  # names from the training DataFrame
    bundle = cap.outputs[0].data
    assert first in bundle["text/html"] and "top 5 of 30 features" in bundle["text/html"]
    png_bytes(bundle, min_bytes=3000)


def test_importance_with_names_variable_and_permutation(trained, run):
    trained.user_ns["names"] = [f"x{i}" for i in range(30)]
    result, _ = run(trained, "importance", "logreg --names names -q")
    assert set(result.data) == set(trained.user_ns["names"])
    result, _ = run(trained, "importance", "nb --permutation X_test y_test --top 3 -q")
    assert len(result.top_features) == 3


def test_importance_without_builtin_importances_suggests_permutation(trained, run):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="--permutation"):
        run(trained, "importance", "nb")

"""`evaluate_predictions` pinned against scikit-learn computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice.evaluation.metrics import evaluate_estimator, evaluate_predictions
from jupyter_modelservice.exceptions import InvalidInputError


def test_regression_metrics_equal_scikit_learn_and_count_the_rows():
    rng = np.random.default_rng(0)
    y = rng.normal(size=37)
    y_pred = y + rng.normal(scale=0.5, size=37)
    mse = skm.mean_squared_error(y, y_pred)
    assert evaluate_predictions(y, y_pred, "regression") == {
        "task_type": "regression", "n_samples": 37, "mse": pytest.approx(mse, rel=1e-12),
        "rmse": pytest.approx(math.sqrt(mse), rel=1e-12),
        "mae": pytest.approx(skm.mean_absolute_error(y, y_pred), rel=1e-12),
        "r2_score": pytest.approx(skm.r2_score(y, y_pred), rel=1e-12),
    }


def test_a_class_never_predicted_has_precision_zero_and_no_warning(recwarn):
    y = np.array(["a", "a", "b", "b", "c", "c"])
    y_pred = np.array(["a", "a", "b", "a", "b", "b"])  # "c" is never predicted: its precision is 0/0
    got = evaluate_predictions(y, y_pred, "classification")
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y, y_pred, average="weighted", zero_division=0)
    assert (got["precision"], got["recall"], got["f1_score"]) == pytest.approx((precision, recall, f1), rel=1e-12)
    assert got["classification_report"]["c"]["precision"] == 0.0
    assert got["classification_report"]["weighted avg"]["precision"] == pytest.approx(precision, rel=1e-12)
    assert not recwarn.list


def test_an_unknown_task_type_is_named_with_the_known_ones():
    with pytest.raises(InvalidInputError) as info:
        evaluate_predictions([1], [1], "ranking")
    assert str(info.value) == "task_type must be one of ('classification', 'regression'), got 'ranking'."


def _three_classes(order):
    """An imbalanced 3-class target and probabilities whose columns follow ``order``."""
    rng = np.random.default_rng(14)
    y = rng.choice(["a", "b", "c"], size=120, p=[0.6, 0.3, 0.1])
    proba = rng.dirichlet([1, 1, 1], size=y.size) + np.c_[y == "a", y == "b", y == "c"] * rng.uniform(0, 1, (y.size, 1))
    proba /= proba.sum(axis=1, keepdims=True)
    columns = [["a", "b", "c"].index(c) for c in order]
    return y, proba[:, columns]


@pytest.mark.parametrize("order", [["a", "b", "c"], ["c", "a", "b"]])
def test_roc_auc_is_weighted_one_vs_rest_with_the_columns_in_the_order_of_classes(order):
    y, proba = _three_classes(order)
    got = evaluate_predictions(y, y, "classification", y_score=proba, classes=order)["roc_auc"]
    sorted_proba = proba[:, [order.index(c) for c in "abc"]]
    expected = skm.roc_auc_score(y, sorted_proba, multi_class="ovr", average="weighted")
    assert got == pytest.approx(expected, rel=1e-12)
    assert got != pytest.approx(skm.roc_auc_score(y, sorted_proba, multi_class="ovr", average="macro"))


@pytest.mark.parametrize("classes", [["a", "b"], ["b", "a"]])
def test_binary_roc_auc_reads_the_second_column_as_the_second_class(classes):
    y, proba = _three_classes(["a", "b", "c"])
    kept = y != "c"
    y, p_b = y[kept], proba[kept, 1] / proba[kept, :2].sum(axis=1)
    columns = np.c_[1 - p_b, p_b] if classes == ["a", "b"] else np.c_[p_b, 1 - p_b]
    got = evaluate_predictions(y, y, "classification", y_score=columns, classes=classes)["roc_auc"]
    assert got == pytest.approx(skm.roc_auc_score(y == "b", p_b), rel=1e-12)


def test_roc_auc_is_none_when_the_target_lacks_a_class_the_model_knows():
    y, proba = _three_classes(["a", "b", "c"])
    kept = y != "c"
    assert evaluate_predictions(y[kept], y[kept], "classification", y_score=proba[kept],
                                classes=["a", "b", "c"])["roc_auc"] is None


def test_evaluate_estimator_returns_the_predictions_only_when_asked_and_no_scores_for_a_regression():
    X = np.arange(20.0).reshape(-1, 1)
    y = (X[:, 0] > 9).astype(int)
    model = LogisticRegression().fit(X, y)  # it has predict_proba; evaluated as a regression it is not asked
    assert "predictions" not in evaluate_estimator(model, X, y, "classification")
    got = evaluate_estimator(model, X, y, "regression", return_predictions=True)["predictions"]
    assert got["y_score"] is None and got["classes"] == [0, 1]

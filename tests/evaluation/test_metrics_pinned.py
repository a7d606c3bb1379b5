"""`evaluate_predictions` pinned against scikit-learn computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from jupyter_modelservice.evaluation.metrics import evaluate_predictions


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

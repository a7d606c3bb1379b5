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

"""NaN that lands only in the validation part: an InvalidInputError that says how to fix it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import InvalidInputError
from jupyter_modelservice.training import split


@pytest.fixture
def nan_in_validation():
    """40 rows, one NaN in a row that the default split (seed 0, 20 %) holds out for validation."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] > 0).astype(int))
    held_out = split(X, y, 0.2, "classification", 0)["X_val"].index
    X.loc[held_out[0], "b"] = np.nan
    assert X.loc[split(X, y, 0.2, "classification", 0)["X_train"].index].notna().all().all()
    return X, y


def test_nan_in_the_validation_part_is_an_invalid_input_error(service, nan_in_validation):
    X, y = nan_in_validation
    with pytest.raises(InvalidInputError) as caught:
        service.train_model(LogisticRegression, X, y, model_id="lr")
    message = str(caught.value)
    assert "validation" in message and "NaN" in message
    assert "SimpleImputer" in message and "validation_split=0" in message  # how to fix it
    assert service.list_models() == []  # nothing registered


def test_an_estimator_that_accepts_nan_still_trains(service, nan_in_validation):
    X, y = nan_in_validation
    row = service.train_model(HistGradientBoostingClassifier, X, y, model_id="hgb", max_iter=10)
    assert row["validation_score"] is not None

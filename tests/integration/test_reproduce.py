"""Reproduce a version from its data: the fingerprint is checked, the refit compared (both databases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jupyter_modelservice import InvalidInputError, ModelService
from jupyter_modelservice.reproduction import compare_predictions


@pytest.fixture(scope="module")
def frame():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), pd.Series(y, name="target")


def test_a_seeded_forest_reproduces_identically_from_its_file(service, frame, tmp_path):
    X, y = frame
    service.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=20, random_state=3)
    service.save_model("rf")
    url = service.registry.url
    with ModelService(db_url=url, models_directory=service.store.root) as fresh:  # from the file
        result = fresh.reproduce("rf", X, y)
    assert result["ref"] == "rf:1"
    assert result["data_matches"] and result["data_differences"] == []
    assert (result["outcome"], result["predictions_match"], result["max_abs_diff"], result["n_different"],
            result["n_rows"]) == ("identical", True, 0.0, 0, 300)
    events = [e for e in service.registry.events("rf", 1) if e["event"] == "reproduced"]
    assert [e["details"]["outcome"] for e in events] == ["identical"]


def test_a_pipeline_reproduces_with_its_nested_parameters(service, frame):
    X, y = frame
    service.train_model(make_pipeline(StandardScaler(), LogisticRegression(C=0.05)), X, y, model_id="pipe")
    assert service.reproduce("pipe", X, y)["predictions_match"] is True


def test_a_regressor_reproduces(service):
    X, y = make_regression(n_samples=120, n_features=4, noise=1.0, random_state=0)
    service.train_model(Ridge, X, y, model_id="ridge", alpha=0.3)
    result = service.reproduce("ridge", X, y)
    assert result["outcome"] in ("identical", "within_tolerance") and result["max_abs_diff"] <= 1e-9


def test_a_model_fitted_on_other_rows_than_recorded_is_different(service, frame):
    X, y = frame
    half = LogisticRegression(max_iter=500).fit(X[:100], y[:100])  # fitted elsewhere, on a third of X
    service.register_model(half, "elsewhere", X=X, y=y)
    result = service.reproduce("elsewhere", X, y)
    assert result["data_matches"] and result["outcome"] == "different" and not result["predictions_match"]
    assert result["max_abs_diff"] > 1e-3


@pytest.mark.parametrize("change, says", [
    (lambda X, y: (X.iloc[:-5], y.iloc[:-5]), "295 rows where the version was trained on 300"),
    (lambda X, y: (X.drop(columns="f5"), y), "5 columns where the version had 6"),
    (lambda X, y: (X.rename(columns={"f2": "g2"}), y), "missing f2; new g2"),
    (lambda X, y: (X[list(reversed(X.columns))], y), "in another order"),
    (lambda X, y: (X.assign(f0=X["f0"] + 1e-6), y), "other values"),
    (lambda X, y: (X, 1 - y), "other values"),
])
def test_other_data_is_named_and_nothing_is_refitted(service, frame, change, says):
    X, y = frame
    service.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=5, random_state=0)
    result = service.reproduce("rf", *change(X, y))
    assert not result["data_matches"] and result["predictions_match"] is None and result["outcome"] is None
    assert any(says in d for d in result["data_differences"]), result["data_differences"]
    assert not [e for e in service.registry.events("rf", 1) if e["event"] == "reproduced"]


def test_a_version_registered_without_its_data_cannot_be_reproduced(service, frame):
    X, y = frame
    service.register_model(LogisticRegression().fit(X, y), "blind")
    with pytest.raises(InvalidInputError, match="blind:1 has no recorded training data fingerprint"):
        service.reproduce("blind", X, y)


class _Fixed:
    def __init__(self, values, proba=None):
        self.values, self.proba = np.asarray(values), proba

    def predict(self, X):
        return self.values

    def __getattr__(self, name):
        if name == "predict_proba" and self.__dict__.get("proba") is not None:
            return lambda X: np.asarray(self.proba)
        raise AttributeError(name)


@pytest.mark.parametrize("b, outcome, n_different", [
    ([0.5, 1.5, 2.5], "identical", 0),
    ([0.5, 1.5 + 1e-12, 2.5], "within_tolerance", 0),
    ([0.5, 1.5 + 1e-3, 2.5 - 1e-3], "different", 2),
])
def test_numbers_are_compared_within_the_tolerance(b, outcome, n_different):
    result = compare_predictions(_Fixed([0.5, 1.5, 2.5]), _Fixed(b), None, atol=1e-9)
    assert (result["outcome"], result["n_different"], result["n_rows"]) == (outcome, n_different, 3)
    assert result["max_abs_diff"] == pytest.approx(max(abs(u - v) for u, v in zip([0.5, 1.5, 2.5], b)))


def test_equal_labels_with_other_probabilities_are_not_identical():
    a = _Fixed([0, 1], proba=[[0.9, 0.1], [0.2, 0.8]])
    b = _Fixed([0, 1], proba=[[0.7, 0.3], [0.2, 0.8]])
    result = compare_predictions(a, b, None, atol=1e-9)
    assert (result["outcome"], result["n_different"]) == ("different", 0)
    assert result["max_abs_diff"] == pytest.approx(0.2)
    close = _Fixed([0, 1], proba=[[0.9 + 1e-12, 0.1 - 1e-12], [0.2, 0.8]])
    assert compare_predictions(a, close, None, atol=1e-9)["outcome"] == "within_tolerance"

"""`ModelService.diff`: what differs between two versions, and only that."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jupyter_modelservice.evaluation.diff import ABSENT, flat_params
from jupyter_modelservice.provenance import data_fingerprint


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=600, n_features=6, n_informative=3, flip_y=0.1, random_state=2)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)], index=[f"row{i}" for i in range(600)])
    return train_test_split(X, pd.Series(y, index=X.index), test_size=200, random_state=0)


def _pipeline(C):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C))


def test_two_pipelines_differing_in_one_parameter_list_exactly_that_one(service, data):
    X_tr, _, y_tr, _ = data
    service.train_model(_pipeline(1.0), X_tr, y_tr, model_id="pipe")
    service.train_model(_pipeline(0.05), X_tr, y_tr, model_id="pipe")
    result = service.diff("pipe:1", "pipe:2")
    assert (result["a"], result["b"]) == ("pipe:1", "pipe:2")
    assert result["params"] == [("logisticregression__C", 1.0, 0.05)]
    assert result["model"] == [] and result["data"] == [] and result["environment"] == []
    rows = [service.get_model_metadata("pipe", v) for v in (1, 2)]  # same data and split: scores compared
    assert result["metrics"] == [(f"{part} accuracy", rows[0][column], rows[1][column])
                                 for part, column in (("train", "train_score"), ("validation", "validation_score"))
                                 if rows[0][column] != rows[1][column]]
    assert "disagreements" not in result  # no X: no predictions


def test_nothing_differs_between_two_copies(service, data):
    X_tr, X_te, y_tr, y_te = data
    service.train_model(_pipeline(1.0), X_tr, y_tr, model_id="a")
    service.train_model(_pipeline(1.0), X_tr, y_tr, model_id="b")
    result = service.diff("a", "b", X_te, y_te)
    assert result["params"] == result["model"] == result["data"] == result["metrics"] == []
    assert result["disagreements"] == 0 and result["disagreement_index"] == []
    accuracy = next(d for d in result["metric_differences"] if d["metric"] == "accuracy")
    assert accuracy["difference"] == 0 and accuracy["p_value"] == 1.0


def test_flat_params_name_nested_steps_once():
    params = flat_params(_pipeline(0.5))
    assert params["logisticregression__C"] == 0.5
    assert params["steps"] == [["standardscaler", "StandardScaler"], ["logisticregression", "LogisticRegression"]]
    assert params["logisticregression"] == "LogisticRegression"
    assert flat_params(object()) == {}


def test_class_data_and_predictions_that_differ(service, data):
    X_tr, X_te, y_tr, y_te = data
    service.train_model(_pipeline(1.0), X_tr, y_tr, model_id="lr")
    service.train_model(RandomForestClassifier, X_tr.iloc[:300], y_tr.iloc[:300], model_id="rf", n_estimators=30,
                        random_state=0)
    result = service.diff("lr", "rf", X_te, y_te, n_bootstrap=500)
    assert ("model_class", "Pipeline", "RandomForestClassifier") in result["model"]
    data_changes = dict((name, (a, b)) for name, a, b in result["data"])
    assert data_changes["training_samples"] == (320, 240)
    assert data_changes["data_fingerprint"][0] != data_changes["data_fingerprint"][1]
    assert ("n_estimators", ABSENT, 30) in result["params"]
    assert any("Training scores not compared" in note for note in result["notes"])

    a, b = service.get_model("lr").predict(X_te), service.get_model("rf").predict(X_te)
    assert result["disagreements"] == int(np.sum(a != b)) > 0
    assert result["disagreement_index"] == list(X_te.index[a != b])  # index labels of a DataFrame
    assert result["data_fingerprint"] == data_fingerprint(X_te, y_te) and result["n_samples"] == 200
    accuracy = next(d for d in result["metric_differences"] if d["metric"] == "accuracy")
    acc_a, acc_b = np.mean(a == y_te), np.mean(b == y_te)
    assert accuracy["a"] == pytest.approx(acc_a) and accuracy["difference"] == pytest.approx(acc_b - acc_a)
    assert accuracy["ci_low"] <= accuracy["difference"] <= accuracy["ci_high"]
    assert {d["metric"] for d in result["metric_differences"]} == {"accuracy", "precision", "recall", "f1_score",
                                                                 "roc_auc"}
    # both evaluations were recorded: stored test metrics on the same data are now compared too
    assert [len(service.evaluations(m)) for m in ("lr", "rf")] == [1, 1]
    again = service.diff("lr", "rf")
    assert any(name.startswith("test accuracy on sha256:") for name, _, _ in again["metrics"])


def test_predictions_without_labels_and_positions_for_arrays(service, data):
    X_tr, X_te, y_tr, _ = data
    service.train_model(_pipeline(1.0), X_tr.to_numpy(), y_tr.to_numpy(), model_id="a")
    service.train_model(_pipeline(0.001), X_tr.to_numpy(), y_tr.to_numpy(), model_id="b")
    result = service.diff("a", "b", X_te.to_numpy())
    a, b = service.get_model("a").predict(X_te.to_numpy()), service.get_model("b").predict(X_te.to_numpy())
    assert result["disagreement_index"] == np.flatnonzero(a != b).tolist()
    assert "metric_differences" not in result and service.evaluations("a") == []


def test_a_version_that_cannot_be_loaded_is_diffed_from_the_registry(service, tmp_path, data):
    from jupyter_modelservice import ModelService

    X_tr, _, y_tr, _ = data
    service.train_model(LogisticRegression, X_tr, y_tr, model_id="lr", C=1.0)
    service.train_model(LogisticRegression, X_tr, y_tr, model_id="lr", C=2.0)  # neither saved
    with ModelService(models_directory=tmp_path / "models") as other:  # another session: not in memory
        result = other.diff("lr:1", "lr:2")
    assert result["params"] == [("C", 1.0, 2.0)]
    assert len(result["notes"]) >= 2 and "top level only" in result["notes"][0]

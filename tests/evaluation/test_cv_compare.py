"""Cross-validations recorded with their folds and data, compared with the corrected resampled t-test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import t as student_t
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from jupyter_modelservice import IncompatibleModelsError, InvalidInputError
from jupyter_modelservice.evaluation.significance import holm
from jupyter_modelservice.provenance import data_fingerprint


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=300, n_features=6, n_informative=3, random_state=1)


def _train_cv(service, model_id, estimator, X, y, folds=5, **params):
    service.train_model(estimator, X, y, model_id=model_id, **params)
    return service.cross_validate_model(estimator, X, y, cv_folds=folds, model_id=model_id, **params)


def test_a_cv_is_recorded_with_its_splitter_folds_and_data(service, data):
    X, y = data
    result = _train_cv(service, "lr", LogisticRegression, X, y)
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    folds = list(splitter.split(X, y))
    assert result["splitter"] == {"class": "StratifiedKFold", "n_splits": 5, "shuffle": True, "random_state": 0}
    assert result["test_sizes"] == [len(test) for _, test in folds]
    assert result["train_sizes"] == [len(train) for train, _ in folds]
    [record] = service.evaluations("lr", kind="cv")
    assert record["kind"] == "cv" and record["data_fingerprint"] == data_fingerprint(X, y) == result["data_fingerprint"]
    assert record["n_samples"] == 300
    assert record["details"]["scores"] == {"accuracy": result["cv_scores"]}
    assert record["details"]["splitter"] == result["splitter"]
    assert record["metrics"] == {"accuracy": pytest.approx(result["mean_score"])}
    stored = service.get_model_metadata("lr")["cv_scores"]
    assert stored["splitter"] == result["splitter"] and stored["folds_digest"] == record["details"]["folds_digest"]
    assert stored["data_fingerprint"] == record["data_fingerprint"]
    assert service.evaluations("lr", kind="test") == []


def test_regressors_get_a_shuffled_kfold(service, diabetes):
    X, y = diabetes
    result = service.cross_validate_model(Ridge, X, y, cv_folds=4)
    assert result["splitter"] == {"class": "KFold", "n_splits": 4, "shuffle": True, "random_state": 0}
    from sklearn.model_selection import cross_val_score

    expected = cross_val_score(Ridge(), X, y, cv=KFold(4, shuffle=True, random_state=0), scoring="r2")
    np.testing.assert_allclose(result["cv_scores"], expected)


def test_the_corrected_ttest_equals_a_hand_computation_from_the_stored_fold_scores(service, data):
    X, y = data
    _train_cv(service, "tree", DecisionTreeClassifier, X, y, max_depth=2, random_state=0)
    _train_cv(service, "lr", LogisticRegression, X, y)
    _train_cv(service, "dummy", DummyClassifier, X, y)
    frame = service.compare_cv(["dummy", "tree", "lr"])
    assert list(frame["model_id"]) == ["lr", "tree", "dummy"]  # best mean first
    stored = {m: service.evaluations(m, kind="cv")[0]["details"] for m in ("lr", "tree", "dummy")}
    n_train = round(np.mean(stored["lr"]["train_sizes"]))
    n_test = round(np.mean(stored["lr"]["test_sizes"]))
    best = np.array(stored["lr"]["scores"]["accuracy"])
    raw = []
    for other in ("tree", "dummy"):
        d = best - np.array(stored[other]["scores"]["accuracy"])
        k = d.size
        t = d.mean() / np.sqrt((1 / k + n_test / n_train) * d.var(ddof=1))
        raw.append(2 * student_t.sf(abs(t), k - 1))
    assert frame["p_value"].iloc[1:].tolist() == pytest.approx(holm(raw), rel=1e-12)
    assert np.isnan(frame["p_value"].iloc[0]) and frame["tied_with_best"].iloc[0]
    assert frame["p_value"].iloc[2] < 0.05 and not frame["tied_with_best"].iloc[2]  # the dummy loses
    assert frame.attrs["test"] == "corrected resampled t-test"
    assert (frame.attrs["n_train"], frame.attrs["n_test"]) == (n_train, n_test) == (240, 60)
    assert frame["mean_score"].iloc[0] == pytest.approx(best.mean())


def test_two_copies_are_tied_with_p_1(service, data):
    X, y = data
    _train_cv(service, "a", LogisticRegression, X, y)
    _train_cv(service, "b", LogisticRegression, X, y)
    frame = service.compare_cv(["a", "b"])
    assert frame["p_value"].iloc[1] == 1.0 and frame["tied_with_best"].all()


def test_different_folds_or_data_are_refused_naming_the_difference(service, data):
    X, y = data
    _train_cv(service, "five", LogisticRegression, X, y, folds=5)
    _train_cv(service, "three", LogisticRegression, X, y, folds=3)
    with pytest.raises(IncompatibleModelsError, match="different folds") as err:
        service.compare_cv(["five", "three"])
    assert "n_splits=5" in str(err.value) and "n_splits=3" in str(err.value)

    _train_cv(service, "fewer", LogisticRegression, X[:200], y[:200])
    with pytest.raises(IncompatibleModelsError, match="different data") as err:
        service.compare_cv(["five", "fewer"])
    assert "n = 300" in str(err.value) and "n = 200" in str(err.value)

    service.cross_validate_model(LogisticRegression, X, y, cv_folds=5, model_id="three")  # now also 5 folds
    frame = service.compare_cv(["five", "three"])
    assert sorted(frame["model_id"]) == ["five", "three"] and frame["tied_with_best"].all()


def test_a_version_without_a_recorded_cv_is_named(service, data):
    X, y = data
    _train_cv(service, "lr", LogisticRegression, X, y)
    service.train_model(DummyClassifier, X, y, model_id="plain")
    with pytest.raises(InvalidInputError, match="plain:1 has no recorded cross-validation"):
        service.compare_cv(["lr", "plain"])


def test_several_scorings_are_compared_by_the_one_asked_for(service, data):
    X, y = data
    for model_id, C in (("a", 1.0), ("b", 0.001)):
        service.train_model(LogisticRegression, X, y, model_id=model_id, C=C)
        service.cross_validate_model(LogisticRegression, X, y, scoring=["accuracy", "roc_auc"], model_id=model_id,
                                     C=C)
    frame = service.compare_cv(["a", "b"], scoring="roc_auc")
    assert frame.attrs["metric"] == "roc_auc" and set(frame["scoring"]) == {"roc_auc"}
    with pytest.raises(IncompatibleModelsError, match="not scored with 'f1'"):
        service.compare_cv(["a", "b"], scoring="f1")

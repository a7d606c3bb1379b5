import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from jupyter_modelservice import IncompatibleModelsError, InvalidInputError, NoImportanceWarning


@pytest.fixture
def split(cancer):
    X, y = cancer
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_binary_classification_metrics_match_sklearn(service, split):
    X_tr, X_te, y_tr, y_te = split
    service.train_model(RandomForestClassifier, X_tr, y_tr, model_id="rf", n_estimators=30, random_state=0)
    result = service.evaluate_model(X_te, y_te, model_id="rf", task_type="classification")
    model = service.current_model
    pred = model.predict(X_te)
    assert result["accuracy"] == pytest.approx(accuracy_score(y_te, pred))
    assert result["f1_score"] == pytest.approx(f1_score(y_te, pred, average="weighted"))
    assert result["roc_auc"] == pytest.approx(roc_auc_score(y_te, model.predict_proba(X_te)[:, 1]))
    assert result["labels"] == [0, 1]
    assert np.sum(result["confusion_matrix"]) == len(y_te)
    assert result["classification_report"]["1"]["support"] == int((y_te == 1).sum())
    assert service.get_model_metadata("rf")["metrics"]["accuracy"] == result["accuracy"]


def test_multiclass_and_no_probabilities(service, iris):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=1000)
    result = service.evaluate_model(X, y)  # current model, task inferred
    assert result["task_type"] == "classification" and result["roc_auc"] > 0.9
    assert len(result["confusion_matrix"]) == 3
    service.train_model(SVC, X, y, model_id="svm")
    assert service.evaluate_model(X, y)["roc_auc"] is None


def test_regression_metrics_match_sklearn(service, diabetes):
    X, y = diabetes
    service.train_model(Ridge, X, y, model_id="ridge", alpha=0.5)
    result = service.evaluate_model(X, y, "ridge")
    pred = service.current_model.predict(X)
    assert result["mse"] == pytest.approx(mean_squared_error(y, pred))
    assert result["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    assert result["r2_score"] == pytest.approx(r2_score(y, pred))
    assert {"accuracy", "confusion_matrix"}.isdisjoint(result)


def test_evaluate_bad_input(service, iris):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
    with pytest.raises(InvalidInputError, match="rows"):
        service.evaluate_model(X, y[:10])
    with pytest.raises(InvalidInputError, match="features"):
        service.evaluate_model(X[:, :2], y)
    with pytest.raises(InvalidInputError, match="task_type"):
        service.evaluate_model(X, y, task_type="ranking")


def test_compare_models_table(service, split):
    X_tr, X_te, y_tr, y_te = split
    service.train_model(RandomForestClassifier, X_tr, y_tr, model_id="rf", n_estimators=30, random_state=0)
    service.save_model("rf")
    service.train_model(make_pipeline(StandardScaler(), LogisticRegression()), X_tr, y_tr, model_id="lr")
    service.train_model(RandomForestClassifier, X_tr, y_tr, model_id="rf", n_estimators=2, max_depth=1,
                        random_state=0)
    done = []
    table = service.compare_models(["rf:1", "lr", "rf"], X_te, y_te, progress=lambda d, t: done.append(d))
    assert list(table.columns[:4]) == ["model_id", "version", "model_class", "task_type"]
    assert {"accuracy", "precision", "recall", "f1_score", "roc_auc"} <= set(table.columns)
    assert len(table) == 3 and done == [1, 2, 3]
    assert table["accuracy"].is_monotonic_decreasing
    assert set(zip(table.model_id, table.version)) == {("rf", 1), ("lr", 1), ("rf", 2)}


def test_compare_regressors_and_refuse_mixed(service, diabetes, iris):
    X, y = diabetes
    service.train_model(LinearRegression, X, y, model_id="lin")
    service.train_model(GradientBoostingRegressor, X, y, model_id="gb", n_estimators=20, random_state=0)
    table = service.compare_models(["lin", "gb"], X, y)
    assert {"mse", "rmse", "mae", "r2_score"} <= set(table.columns)
    Xi, yi = iris
    service.train_model(LogisticRegression, Xi, yi, model_id="clf", max_iter=500)
    with pytest.raises(IncompatibleModelsError, match="lin:1 \\(regression\\)"):
        service.compare_models(["lin", "clf"], X, y)


def test_importances_tree_linear_pipeline_and_permutation(service, cancer):
    X, y = cancer
    service.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=20, random_state=0)
    tree = service.get_feature_importance()
    assert list(tree) == sorted(tree, key=tree.get, reverse=True)
    assert set(tree) == set(X.columns) and sum(tree.values()) == pytest.approx(1.0)

    service.train_model(make_pipeline(StandardScaler(), LogisticRegression()), X, y, model_id="lr")
    linear = service.get_feature_importance(model_id="lr")
    coef = np.abs(service.current_model[-1].coef_).ravel()
    assert max(linear.values()) == pytest.approx(coef.max())
    assert set(linear) == set(X.columns)

    names = [f"f{i}" for i in range(X.shape[1])]
    renamed = service.get_feature_importance(names, "rf")
    assert set(renamed) == set(names)

    service.train_model(SVC, X, y, model_id="svm")
    with pytest.warns(NoImportanceWarning, match="permutation=True"):
        assert service.get_feature_importance() == {}
    perm = service.get_feature_importance(permutation=True, X=X.iloc[:200], y=y.iloc[:200], n_repeats=2)
    assert set(perm) == set(X.columns)
    with pytest.raises(InvalidInputError, match="needs X and y"):
        service.get_feature_importance(permutation=True)


def test_predictions_are_returned_on_request_and_not_stored(service, split):
    X_tr, X_te, y_tr, y_te = split
    service.train_model(LogisticRegression, X_tr, y_tr, model_id="lr", max_iter=3000)
    result = service.evaluate_model(X_te, y_te, return_predictions=True)
    predictions = result["predictions"]
    np.testing.assert_array_equal(predictions["y_pred"], service.predict(X_te))
    np.testing.assert_allclose(predictions["y_score"], service.predict_proba(X_te))
    assert predictions["classes"] == [0, 1]
    assert "predictions" not in service.get_model_metadata("lr")["metrics"]
    assert "predictions" not in service.evaluate_model(X_te, y_te)


def _binary(n=1000, seed=0):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, random_state=seed)
    return X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:]


def test_two_copies_of_one_model_are_tied_with_p_1(service):
    from sklearn.linear_model import LogisticRegression

    X_tr, y_tr, X_te, y_te = _binary()
    service.train_model(LogisticRegression, X_tr, y_tr, model_id="a", random_state=0)
    service.train_model(LogisticRegression, X_tr, y_tr, model_id="b", random_state=0)
    frame = service.compare_models(["a", "b"], X_te, y_te)
    assert frame["p_value"].iloc[1] == 1.0 and frame["tied_with_best"].all()
    assert frame.attrs["test"] == "exact McNemar" and frame.attrs["n_samples"] == len(y_te)
    assert frame.attrs["data_fingerprint"] and frame.attrs["metric"] == "accuracy"
    assert (frame["ci_low"] <= frame["accuracy"]).all() and (frame["accuracy"] <= frame["ci_high"]).all()


def test_a_forest_beats_a_dummy_on_500_rows(service):
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier

    X_tr, y_tr, X_te, y_te = _binary()
    service.train_model(DummyClassifier, X_tr, y_tr, model_id="dummy")
    service.train_model(RandomForestClassifier, X_tr, y_tr, model_id="forest", n_estimators=50, random_state=0)
    for metric in ("accuracy", "roc_auc"):
        frame = service.compare_models(["dummy", "forest"], X_te, y_te, metric=metric)
        assert list(frame["model_id"]) == ["forest", "dummy"]  # ranked by the metric, not by the order given
        assert frame["p_value"].iloc[1] < 0.001 and not frame["tied_with_best"].iloc[1]
        assert np.isnan(frame["p_value"].iloc[0]) and frame["tied_with_best"].iloc[0]


def test_comparison_of_regressors_ranks_by_an_error_metric(service, diabetes):
    from sklearn.linear_model import Ridge

    X, y = diabetes
    service.train_model(Ridge, X, y, model_id="weak", alpha=100.0)
    service.train_model(Ridge, X, y, model_id="strong", alpha=0.01)
    frame = service.compare_models(["weak", "strong"], X, y, metric="rmse", n_bootstrap=500, random_state=3)
    assert list(frame["model_id"]) == ["strong", "weak"] and frame.attrs["test"] == "paired bootstrap"
    again = service.compare_models(["weak", "strong"], X, y, metric="rmse", n_bootstrap=500, random_state=3)
    assert frame[["ci_low", "ci_high"]].equals(again[["ci_low", "ci_high"]])  # seeded
    with pytest.raises(ValueError, match="Cannot sort by .accuracy.: choose one of r2_score"):
        service.compare_models(["weak", "strong"], X, y, metric="accuracy")


def test_compare_models_ranks_models_given_worst_first(service, split, diabetes):
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.tree import DecisionTreeClassifier

    X_tr, X_te, y_tr, y_te = split
    service.train_model(DummyClassifier, X_tr, y_tr, model_id="dummy")
    service.train_model(DecisionTreeClassifier, X_tr, y_tr, model_id="stump", max_depth=1, random_state=0)
    service.train_model(make_pipeline(StandardScaler(), LogisticRegression()), X_tr, y_tr, model_id="lr")
    table = service.compare_models(["dummy", "stump", "lr"], X_te, y_te)
    assert list(table["model_id"]) == ["lr", "stump", "dummy"]  # the reverse of the order given
    assert table["accuracy"].is_unique and table["accuracy"].is_monotonic_decreasing

    X, y = diabetes
    service.train_model(DummyRegressor, X, y, model_id="mean")
    service.train_model(Ridge, X, y, model_id="ridge", alpha=0.1)
    table = service.compare_models(["mean", "ridge"], X, y, metric="mae")
    assert list(table["model_id"]) == ["ridge", "mean"]  # lowest error first
    assert table["mae"].is_monotonic_increasing and table.attrs["metric"] == "mae"

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from jupyter_modelservice import InvalidInputError, InvalidModelIdError, ModelService
from jupyter_modelservice.exceptions import ModelServiceError


def test_defaults_create_models_folder_and_registry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    svc = ModelService()
    assert (tmp_path / "models" / "registry.db").exists()
    assert svc.models_directory == "./models"
    svc.close()


def test_train_returns_the_documented_fields(service, cancer):
    X, y = cancer
    result = service.train_model(RandomForestClassifier, X, y, model_id="rf",
                                 n_estimators=20, random_state=0)
    assert result["model_id"] == "rf" and result["version"] == 1
    assert result["model_class"] == "RandomForestClassifier"
    assert result["model_params"]["n_estimators"] == 20
    assert result["task_type"] == "classification" and result["scoring"] == "accuracy"
    assert result["training_samples"] + result["validation_samples"] == len(y)
    assert result["validation_samples"] == int(np.ceil(0.2 * len(y)))
    assert result["feature_count"] == X.shape[1]
    assert result["feature_names"] == list(X.columns)
    assert 0.85 < result["validation_score"] <= result["train_score"] <= 1
    assert result["fit_seconds"] > 0 and result["training_date"].endswith("+00:00")
    assert result["status"] == "trained"
    assert service.current_ref == "rf:1"
    assert service.get_model_metadata("rf")["status"] == "trained"


def test_split_is_stratified_and_reproducible(service, cancer):
    X, y = cancer
    a = service.train_model(LogisticRegression, X, y, model_id="a", max_iter=3000, random_state=1)
    b = service.train_model(LogisticRegression, X, y, model_id="b", max_iter=3000, random_state=1)
    assert a["validation_score"] == b["validation_score"]
    config = service.get_model_metadata("a")["training_config"]
    assert config == {"validation_split": 0.2, "seed": 1, "stratified": True}


def test_training_again_adds_a_version(service, iris):
    X, y = iris
    versions = [service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)["version"]
                for _ in range(3)]
    assert versions == [1, 2, 3]
    assert [r["version"] for r in service.list_models(model_id="lr", order_by="version")] == [1, 2, 3]


def test_numpy_instance_pipeline_and_generated_id(service, iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    result = service.train_model(pipe, X, y, logisticregression__C=0.5)
    assert result["model_class"] == "Pipeline"
    assert result["model_id"] == "pipeline-1"
    assert result["feature_names"] is None
    assert pipe[-1].C == 1.0  # the user's object is cloned, not changed
    est = service.current_model
    assert est is not pipe and est[-1].C == 0.5


def test_regression_and_no_validation_split(service, diabetes):
    X, y = diabetes
    result = service.train_model(LinearRegression, X, pd.Series(y), validation_split=0)
    assert result["task_type"] == "regression" and result["scoring"] == "r2"
    assert result["validation_score"] is None and result["validation_samples"] == 0
    assert result["training_samples"] == len(y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": np.zeros(10)}, "y has 10"),
        ({"y": np.r_[np.nan, np.ones(149)]}, "missing"),
        ({"y": np.ones(150)}, "single class"),
        ({"validation_split": 1.5}, "validation_split"),
        ({"validation_split": "a lot"}, "validation_split"),
        ({"model_class": object}, "fit"),
        ({"model_class": "RandomForestClassifier"}, "estimator"),
        ({"X": np.arange(150)}, "1-D"),
        ({"bogus_param": 3}, "bogus_param"),
    ],
)
def test_bad_training_input_is_a_clear_error_and_writes_nothing(service, iris, kwargs, match):
    X, y = iris
    args = {"model_class": LogisticRegression, "X": X, "y": y, "model_id": "lr"}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match) as info:
        service.train_model(**args)
    assert isinstance(info.value, ModelServiceError)
    assert service.list_models() == []


@pytest.mark.parametrize("bad", ["../evil", "a/b", "x" * 200, "caf\u00e9", "CON", "a\x00"])
def test_invalid_ids_fail_before_any_work(service, iris, bad, monkeypatch):
    X, y = iris
    monkeypatch.setattr(LogisticRegression, "fit", lambda *a, **k: pytest.fail("fit was called"))
    with pytest.raises(InvalidModelIdError):
        service.train_model(LogisticRegression, X, y, model_id=bad)
    assert service.list_models() == []


def test_cross_validation_matches_sklearn(service, cancer):
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, y = cancer
    seen = []
    result = service.cross_validate_model(RandomForestClassifier, X, y, cv_folds=4, scoring="f1",
                                          progress=lambda d, t: seen.append((d, t)),
                                          n_estimators=10, random_state=0)
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)  # the recorded, fixed splitter
    expected = cross_val_score(RandomForestClassifier(n_estimators=10, random_state=0), X, y,
                               cv=folds, scoring="f1")
    assert result["splitter"] == {"class": "StratifiedKFold", "n_splits": 4, "shuffle": True, "random_state": 0}
    np.testing.assert_allclose(result["cv_scores"], expected)
    assert result["mean_score"] == pytest.approx(expected.mean())
    assert result["std_score"] == pytest.approx(expected.std())
    assert result["scoring"] == "f1" and result["cv_folds"] == 4
    assert len(result["fit_time"]) == 4
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cross_validation_with_several_scorings_and_threads(service, iris):
    import joblib

    X, y = iris
    with joblib.parallel_config(backend="threading"):
        result = service.cross_validate_model(LogisticRegression, X, y, cv_folds=3,
                                              scoring=["accuracy", "f1_macro"], n_jobs=2, max_iter=500)
    assert set(result["scores"]) == {"accuracy", "f1_macro"}
    assert result["mean_score"] == pytest.approx(result["scores"]["accuracy"]["mean"])


def test_cross_validation_bad_options(service, iris):
    X, y = iris
    with pytest.raises(InvalidInputError, match="Unknown scoring"):
        service.cross_validate_model(LogisticRegression, X, y, scoring="accurasy")
    with pytest.raises(InvalidInputError, match="cv_folds"):
        service.cross_validate_model(LogisticRegression, X, y, cv_folds=1)


def test_cross_validation_recorded_on_a_version(service, iris):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
    service.cross_validate_model(LogisticRegression, X, y, cv_folds=3, model_id="lr", max_iter=500)
    assert len(service.get_model_metadata("lr")["cv_scores"]["cv_scores"]) == 3


def test_provenance_is_recorded(service, iris):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="a", max_iter=500)
    service.train_model(LogisticRegression, X, y, model_id="b", max_iter=500)
    service.train_model(LogisticRegression, X[::-1], y[::-1], model_id="c", max_iter=500)
    a, b, c = (service.get_model_metadata(m) for m in "abc")
    assert a["data_fingerprint"] == b["data_fingerprint"] != c["data_fingerprint"]
    assert a["data_fingerprint"].startswith("sha256:")
    import sklearn

    assert a["environment"]["sklearn"] == sklearn.__version__
    assert a["source"]["kind"] in {"script", "ipython", "interactive"}


def test_predict_proba_missing_is_a_clear_error(service, iris):
    X, y = iris
    service.train_model(SVC, X, y, model_id="svm")
    assert len(service.predict(X[:5])) == 5
    with pytest.raises(InvalidInputError, match="predict_proba"):
        service.predict_proba(X[:5])


class RowRecorder(LogisticRegression):
    """A classifier that remembers which rows (column 0 holds the row number) it was fitted on."""

    def fit(self, X, y, sample_weight=None):
        self.fit_rows_ = np.asarray(X)[:, 0].astype(int)
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("seed", [0, 4])
def test_the_validation_split_is_stratified_with_the_recorded_seed(service, seed):
    from sklearn.model_selection import train_test_split

    n = 200
    y = np.array([0] * 160 + [1] * 32 + [2] * 8)  # imbalanced: 80 % / 16 % / 4 %
    X = np.column_stack([np.arange(n), np.random.default_rng(seed).normal(size=n)])
    service.train_model(RowRecorder, X, y, model_id="rec", validation_split=0.25, random_state=seed,
                        max_iter=500)
    fitted = np.sort(service.current_model.fit_rows_)
    held_out = np.setdiff1d(np.arange(n), fitted)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    np.testing.assert_array_equal(held_out, np.sort(X_val[:, 0].astype(int)))  # the very same rows
    assert np.bincount(y[held_out]).tolist() == np.bincount(y_val).tolist() == [40, 8, 2]
    _, plain_val = train_test_split(np.arange(n), test_size=0.25, random_state=seed)
    assert np.bincount(y[plain_val], minlength=3).tolist() != [40, 8, 2]  # unstratified would show
    row = service.get_model_metadata("rec")
    assert (row["training_samples"], row["validation_samples"]) == (150, 50)
    assert row["training_config"] == {"validation_split": 0.25, "seed": seed, "stratified": True}

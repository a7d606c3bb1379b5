"""The behaviour probe: a load under other library versions warns only when the predictions changed."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import Ridge
from sklearn.naive_bayes import GaussianNB

from jupyter_modelservice import EnvironmentMismatchWarning, ModelService, probe, provenance


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=5, n_informative=3, random_state=0)
    return X, y


@pytest.fixture
def other_sklearn(monkeypatch):
    """Call it to run what follows as under another scikit-learn release than the one that saved."""
    real = provenance.environment

    def switch():
        monkeypatch.setattr(provenance, "environment", lambda: {**real(), "sklearn": "99.0.0"})

    return switch


def _fresh(service):
    """Another session on the same registry: loads read the file."""
    return ModelService(db_url=service.registry.url, models_directory=service.store.root)


def _events(service, ref):
    return [e for e in service.model_history(ref) if e["event"] == "behaviour_verified"]


def test_a_saved_version_keeps_five_synthetic_rows_and_its_predictions(service, data):
    X, y = data
    service.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=10, random_state=0)
    service.save_model("rf")
    kept = service.get_model_metadata("rf")["probe"]
    assert kept["kind"] == "quantiles" and len(kept["rows"]) == 5 and all(len(r) == 5 for r in kept["rows"])
    rows = np.asarray(kept["rows"])
    assert not any((rows[i] == X).all(axis=1).any() for i in range(5))  # no training row is stored
    assert (rows >= X.min(axis=0)).all() and (rows <= X.max(axis=0)).all()
    model = service.get_model("rf")
    assert kept["predict"] == model.predict(rows).tolist()
    np.testing.assert_allclose(kept["proba"], model.predict_proba(rows), atol=1e-12)


def test_the_same_predictions_under_other_versions_are_recorded_once_without_a_warning(service, data,
                                                                                         other_sklearn):
    X, y = data
    service.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=10, random_state=0)
    service.save_model("rf")
    other_sklearn()
    with _fresh(service) as later:
        with warnings.catch_warnings():
            warnings.simplefilter("error", EnvironmentMismatchWarning)
            later.load_model("rf")
            later.load_model("rf")
        events = _events(later, "rf:1")
    assert len(events) == 1
    assert events[0]["details"]["probe_rows"] == 5
    assert any(lib.startswith("sklearn ") and lib.endswith("→ 99.0.0") for lib in events[0]["details"]["libraries"])


def test_changed_predictions_warn_with_how_many(service, data, other_sklearn):
    X, y = data
    service.train_model(Ridge, X, y.astype(float), model_id="ridge")
    service.save_model("ridge")
    kept = service.get_model_metadata("ridge")["probe"]
    kept["predict"][2] += 0.5  # as if the library computed something else now
    service.registry.set_values("ridge", 1, {"probe": kept})
    other_sklearn()
    with _fresh(service) as later:
        with pytest.warns(EnvironmentMismatchWarning,
                          match=r"ridge:1 was saved with other library versions \(sklearn .* → 99\.0\.0\); 1 of 5 "
                                r"predictions on its behaviour probe differ now \(largest difference 0\.5\)"):
            later.load_model("ridge")
        assert _events(later, "ridge:1") == []


def test_without_a_probe_any_version_difference_warns(tmp_path, data, other_sklearn):
    X, y = data
    with ModelService(models_directory=tmp_path / "m", probe_rows=None) as service:
        service.train_model(GaussianNB, X, y, model_id="nb")
        service.save_model("nb")
        assert service.get_model_metadata("nb")["probe"] is None
        other_sklearn()
        with _fresh(service) as later, pytest.warns(EnvironmentMismatchWarning, match="no behaviour probe"):
            later.load_model("nb")


def test_the_same_versions_check_nothing(service, data):
    X, y = data
    service.train_model(GaussianNB, X, y, model_id="nb")
    service.save_model("nb")
    with _fresh(service) as later:
        with warnings.catch_warnings():
            warnings.simplefilter("error", EnvironmentMismatchWarning)
            later.load_model("nb")
        assert _events(later, "nb:1") == []


def test_a_frame_keeps_its_columns_and_dtypes_and_real_rows_on_request(tmp_path):
    X = pd.DataFrame({"size": np.arange(100, dtype="int64"), "ratio": np.linspace(0, 1, 100),
                      "flag": [True, False] * 50})
    y = (X["ratio"] > 0.5).astype(int)
    quantiles = probe.inputs_from(X)
    assert quantiles["columns"] == ["size", "ratio", "flag"] and quantiles["dtypes"] == ["int64", "float64", "bool"]
    frame = probe._frame(quantiles)
    assert list(frame.dtypes.astype(str)) == ["int64", "float64", "bool"]
    real = probe.inputs_from(X, rows="real")
    assert real["kind"] == "real" and all(row in X.values.tolist() for row in real["rows"])
    with ModelService(models_directory=tmp_path / "m", probe_rows="real") as service:
        service.train_model(GaussianNB, X, y, model_id="nb")
        service.save_model("nb")
        assert service.get_model_metadata("nb")["probe"]["rows"] == real["rows"]


def test_data_a_probe_cannot_hold_keeps_none(tmp_path):
    from scipy import sparse

    assert probe.inputs_from(sparse.random(20, 3, density=0.5, random_state=0, format="csr")) is None
    assert probe.inputs_from(np.zeros((0, 3))) is None
    assert probe.inputs_from(np.zeros((4, probe.MAX_COLUMNS + 1))) is None
    assert len(probe.inputs_from(np.zeros((4, probe.MAX_COLUMNS)))["rows"][0]) == probe.MAX_COLUMNS
    with pytest.raises(ValueError, match="rows must be"):
        probe.inputs_from(np.zeros((3, 3)), rows="all")
    with pytest.raises(Exception, match="probe_rows must be"):
        ModelService(models_directory=tmp_path / "m", probe_rows="some")


def test_a_model_that_cannot_predict_its_probe_still_saves(service, data, monkeypatch):
    X, y = data
    service.train_model(GaussianNB, X, y, model_id="nb")

    def refuse(estimator, inputs):
        raise ValueError("cannot predict synthetic rows")

    monkeypatch.setattr(probe, "with_outputs", refuse)
    assert service.save_model("nb")
    assert service.get_model_metadata("nb")["probe"] is None and service.get_model_metadata("nb")["status"] == "saved"


def test_the_rows_are_numpy_quantiles_of_each_column_missing_values_left_out():
    X = np.random.default_rng(0).normal(size=(300, 4))
    levels = np.linspace(0.05, 0.95, 5)
    np.testing.assert_allclose(probe.inputs_from(X)["rows"], np.quantile(X, levels, axis=0))
    X[::7, 2], X[:, 3] = np.nan, np.inf
    rows = np.asarray(probe.inputs_from(X)["rows"], dtype=float)
    np.testing.assert_allclose(rows[:, 2], np.nanquantile(X[:, 2], levels))
    assert np.isnan(rows[:, 3]).all()  # no finite value: None in the probe
    frame = pd.DataFrame(X[:, :2], columns=["a", "b"]).assign(kind=["x", "y", "z"] * 100)
    kept = probe.inputs_from(frame)
    np.testing.assert_allclose([r[:2] for r in kept["rows"]], np.quantile(X[:, :2], levels, axis=0))
    assert [r[2] for r in kept["rows"]] == ["x", "x", "y", "z", "z"]


class _BackendSpy(GaussianNB):
    """Records the joblib backend active while it predicts."""

    seen: list = []

    def _record(self):
        from joblib.parallel import get_active_backend

        self.seen.append(type(get_active_backend()[0]).__name__)

    def predict(self, X):
        self._record()
        return super().predict(X)

    def predict_proba(self, X):
        self._record()
        return super().predict_proba(X)


def test_the_probe_predicts_in_this_process_one_tree_after_another(data):
    """Five rows do not start workers (a forest with n_jobs=-1 spent ~45 ms of a save on them)."""
    X, y = data
    model = _BackendSpy().fit(X, y)
    _BackendSpy.seen = []
    recorded = probe.with_outputs(model, probe.inputs_from(X))
    assert _BackendSpy.seen == ["SequentialBackend", "SequentialBackend"]
    assert recorded["predict"] == model.predict(np.asarray(recorded["rows"])).tolist()
    forest = RandomForestClassifier(n_estimators=8, n_jobs=-1, random_state=0).fit(X, y)
    assert probe.changes(forest, probe.with_outputs(forest, probe.inputs_from(X)))["changed"] == 0

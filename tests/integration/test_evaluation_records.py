"""Evaluation records on a PostgreSQL registry: stored predictions (bytea), reuse, cascade, the 3 → 4 upgrade."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from jupyter_modelservice import IncompatibleModelsError, ModelService
from jupyter_modelservice.model_files import ModelFiles
from jupyter_modelservice.provenance import data_fingerprint
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.schema import SCHEMA_VERSION
from tests.old_schema import downgrade

pytestmark = pytest.mark.postgres


@pytest.fixture
def data():
    X, y = make_classification(n_samples=500, n_features=6, n_informative=3, random_state=3)
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture
def team(pg_url, tmp_path):
    service = ModelService(db_type="postgresql", db_url=pg_url, models_directory=tmp_path / "models")
    yield service
    service.close()


def test_evaluations_are_stored_reused_and_deleted_with_their_version(team, pg_url, tmp_path, data, monkeypatch):
    X_tr, y_tr, X_te, y_te = data
    team.train_model(LogisticRegression, X_tr, y_tr, model_id="lr")
    team.train_model(DecisionTreeClassifier, X_tr, y_tr, model_id="tree", max_depth=3, random_state=0)
    for model_id in ("lr", "tree"):
        team.save_model(model_id)
    first = team.compare_models(["lr", "tree"], X_te, y_te, metric="roc_auc")
    [record] = team.evaluations("lr")
    assert record["data_fingerprint"] == data_fingerprint(X_te, y_te) and record["predictions_stored"]
    monkeypatch.setattr(ModelFiles, "read", lambda *a, **k: pytest.fail("a model file was read"))
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=tmp_path / "models") as other:
        second = other.compare_models(["lr", "tree"], X_te, y_te, metric="roc_auc")  # predictions from bytea
        assert second.attrs["reused"] == ["lr:1", "tree:1"]
        pd.testing.assert_frame_equal(first, second)
    team.evaluate_model(X_te[:100], y_te[:100], "tree")
    with pytest.raises(IncompatibleModelsError, match="lr:1 was never evaluated on that data"):
        team.compare_evaluations(["lr", "tree"], data_fingerprint=data_fingerprint(X_te[:100], y_te[:100]))
    assert list(team.compare_evaluations(["lr", "tree"])["model_id"]) == list(first["model_id"])
    team.delete_model("tree")
    with team.registry.atomic(write=False) as conn:
        assert conn.exec_driver_sql("SELECT DISTINCT model_id FROM evaluations").scalars().all() == ["lr"]


def test_cv_records_compare_on_postgresql(team, data):
    X_tr, y_tr, _, _ = data
    for model_id, estimator in (("lr", LogisticRegression), ("tree", DecisionTreeClassifier)):
        team.train_model(estimator, X_tr, y_tr, model_id=model_id)
        team.cross_validate_model(estimator, X_tr, y_tr, cv_folds=4, model_id=model_id)
    frame = team.compare_cv(["tree", "lr"])
    assert frame.attrs["n_folds"] == 4 and frame.attrs["test"] == "corrected resampled t-test"
    assert team.evaluations("lr", kind="cv")[0]["details"]["splitter"]["class"] == "StratifiedKFold"


def test_a_version_3_registry_gets_the_evaluations_table(pg_url, data):
    X_tr, y_tr, X_te, y_te = data
    with Registry(pg_url) as reg:
        reg.add_version({"model_id": "rf", "model_class": "RandomForestClassifier"})
        with reg.atomic() as conn:  # back to what schema version 3 wrote
            downgrade(conn, 3)
            assert not sa.inspect(conn).has_table("evaluations")
    with Registry(pg_url) as reg:
        assert reg.schema_version() == SCHEMA_VERSION and reg.get("rf", 1)["model_class"] == "RandomForestClassifier"
        assert reg.evaluations("rf") == []
        reg.add_evaluation({"model_id": "rf", "version": 1, "kind": "test", "data_fingerprint": "sha256:00",
                            "predictions": b"\x00\xff" * 10})
        assert reg.evaluations("rf", predictions=True)[0]["predictions"] == b"\x00\xff" * 10
        reg.delete("rf")
        with reg.atomic(write=False) as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM evaluations").scalar_one() == 0

"""Maintenance never races a save, and deletes finish: local SQLite and PostgreSQL + S3 (moto).

Faults are injected deterministically: a save is paused between its steps (the
store's ``publish`` runs another process's maintenance first), a store call fails.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from jupyter_modelservice import ArtifactError, ModelService, maintenance
from jupyter_modelservice.exceptions import ModelServiceWarning

from .conftest import _libpq


@pytest.fixture(params=["local", "team"])
def registries(request, tmp_path):
    """``open(name)``: a service on registry ``name``; every registry shares one models folder/prefix."""
    opened: list[ModelService] = []
    if request.param == "local":
        models = tmp_path / "models"

        def open_registry(name: str = "main") -> ModelService:
            svc = ModelService(models_directory=models, db_url=f"sqlite:///{tmp_path / name}.db")
            opened.append(svc)
            return svc
    else:
        import psycopg

        pg_database = request.getfixturevalue("pg_database")
        options = request.getfixturevalue("s3_options")
        prefix = request.getfixturevalue("s3_url")
        schemas: dict[str, str] = {}

        def open_registry(name: str = "main") -> ModelService:
            if name not in schemas:
                schemas[name] = f"t_{uuid.uuid4().hex[:12]}"
                with psycopg.connect(_libpq(pg_database), autocommit=True) as conn:
                    conn.execute(f'CREATE SCHEMA "{schemas[name]}"')
            sep = "&" if "?" in pg_database else "?"
            svc = ModelService(db_type="postgresql", models_directory=prefix, storage_options=options,
                               db_url=f"{pg_database}{sep}options=-csearch_path%3D{schemas[name]}")
            opened.append(svc)
            return svc
    yield open_registry
    for svc in opened:
        svc.close()


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, (X[:, 0] > 0).astype(int)


def _pause_publish(service, during):
    """Make ``service``'s next publish run ``during()`` first: a save paused between its steps."""
    real = service.store.publish

    def publish(staged):
        during()
        return real(staged)

    service.store.publish = publish


def test_repair_leaves_a_running_save_alone(registries, data):
    saver, operator = registries(), registries()
    saver.train_model(DecisionTreeClassifier, *data, model_id="rf", random_state=0)
    seen = {}

    def maintenance_meanwhile():
        seen["verify"] = maintenance.verify(operator)
        seen["repair"] = maintenance.repair(operator)

    _pause_publish(saver, maintenance_meanwhile)
    assert saver.save_model("rf") is True
    assert seen["repair"].of("cleared") == [] and seen["repair"].refs("save_in_progress") == ["rf:1"]
    assert "incomplete_save" not in seen["verify"].kinds()
    assert [n.kind for n in seen["verify"].notes if n.ref == "rf:1"] == ["save_in_progress"]
    fresh = registries()
    assert fresh.get_model("rf").predict(data[0][:2]).shape == (2,)
    assert maintenance.verify(fresh, grace=0).ok


def test_a_save_overtaken_by_repair_fails_loudly_and_gc_keeps_its_file(registries, data):
    saver, operator = registries(), registries()
    saver.train_model(DecisionTreeClassifier, *data, model_id="rf", random_state=0)
    _pause_publish(saver, lambda: maintenance.repair(operator, grace=0))  # forced: clears the pending row
    with pytest.raises(ArtifactError, match="overtaken"):
        saver.save_model("rf")
    row = operator.registry.get("rf", 1)
    assert row["artifact_state"] is None and row["file_path"] is None and row["status"] == "trained"
    gc = maintenance.collect_garbage(operator, grace=0)
    assert gc.of("removed") == [] and "rf/v1.joblib" in gc.paths("kept")
    assert operator.store.exists("rf/v1.joblib")
    saver.store.publish = type(saver.store).publish.__get__(saver.store)
    assert saver.save_model("rf") is True  # the session still holds the model: saving again works
    assert registries().get_model("rf").predict(data[0][:2]).shape == (2,)


def test_gc_never_deletes_files_of_another_registry_sharing_the_prefix(registries, data):
    mine, theirs = registries("mine"), registries("theirs")
    mine.train_model(DecisionTreeClassifier, *data, model_id="rf", random_state=0)
    mine.save_model("rf")  # rf/v1.joblib
    theirs.train_model(DecisionTreeClassifier, *data, model_id="rf", random_state=1)
    theirs.save_model("rf", save_format="pickle")  # rf/v1.pkl: the same version number, another file
    for service in (mine, theirs):
        report = maintenance.collect_garbage(service, grace=0)
        assert report.of("removed") == [], report.to_dict()
    assert mine.store.exists("rf/v1.joblib") and mine.store.exists("rf/v1.pkl")
    assert mine.get_model("rf") is not None and theirs.get_model("rf") is not None


def test_gc_removes_a_file_its_own_resave_left_behind(registries, data, monkeypatch):
    service = registries()
    service.train_model(DecisionTreeClassifier, *data, model_id="rf", random_state=0)
    service.save_model("rf")
    real_delete = service.store.delete

    def flaky_delete(relpath):
        raise ArtifactError("connection reset while deleting")

    monkeypatch.setattr(service.store, "delete", flaky_delete)
    with pytest.raises(ArtifactError):
        service.save_model("rf", save_format="skops")  # the new file is in place; the old one stays
    monkeypatch.setattr(service.store, "delete", real_delete)
    assert service.registry.get("rf", 1)["file_path"] == "rf/v1.skops"
    report = maintenance.collect_garbage(service, grace=0)
    assert report.paths("removed") == ["rf/v1.joblib"]
    assert "replaced" in report.of("removed")[0].message


@pytest.mark.parametrize("finish", ["gc", "repair"])
def test_an_interrupted_delete_is_finished_and_never_resurrected(registries, data, monkeypatch, finish):
    service = registries()
    for seed in (0, 1):
        service.train_model(DecisionTreeClassifier, *data, model_id="rf", random_state=seed)
        service.save_model("rf")

    def network_down(relpath):
        raise ArtifactError("network unreachable")

    real_delete = service.store.delete
    monkeypatch.setattr(service.store, "delete", network_down)
    with pytest.warns(ModelServiceWarning, match="gc"):
        assert service.delete_model("rf:1") == 1  # the row is gone; its files could not be removed
    monkeypatch.setattr(service.store, "delete", real_delete)

    report = maintenance.verify(service, grace=0)
    assert report.kinds() == {"deleted_leftover": 2}, report.to_dict()
    rebuilt = maintenance.rebuild_index(service)
    assert rebuilt.of("added") == [] and any("deleted" in r.message for r in rebuilt.of("refused"))
    assert [r["version"] for r in service.list_models(model_id="rf")] == [2]
    if finish == "gc":
        removed = maintenance.collect_garbage(service, grace=0).paths("removed")
    else:
        removed = maintenance.repair(service).paths("removed")
    assert sorted(removed) == ["rf/v1.joblib", "rf/v1.json"]
    assert maintenance.verify(service, grace=0).ok
    assert service.get_model("rf:2") is not None

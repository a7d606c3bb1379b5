"""The whole ModelService API on a PostgreSQL registry (local or S3 model files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from jupyter_modelservice import ModelService
from jupyter_modelservice.exceptions import (
    ArtifactIntegrityError,
    InvalidInputError,
    ModelNotFoundError,
    SchemaVersionError,
)
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry import database as database_module
from jupyter_modelservice.registry.schema import SCHEMA_VERSION, schema_info
from tests.old_schema import downgrade
from tests.threads import errors_in_threads

from .processes import run_together

pytestmark = pytest.mark.postgres


#: Where the model files go; PostgreSQL always holds the registry.
STORES = [pytest.param("local", marks=pytest.mark.postgres),
          pytest.param("s3", marks=[pytest.mark.postgres, pytest.mark.s3])]


@pytest.fixture(params=STORES)
def team(request, pg_url, tmp_path):
    """A ModelService on PostgreSQL with local files, or with files on S3 (moto)."""
    if request.param == "s3":
        options = request.getfixturevalue("s3_options")
        where = {"models_directory": request.getfixturevalue("s3_url"), "storage_options": options}
    else:
        where = {"models_directory": tmp_path / "models"}
    svc = ModelService(db_type="postgresql", db_url=pg_url, **where)
    yield svc, where
    svc.close()


def test_whole_api_round_trip(team, iris, diabetes):
    svc, where = team
    X, y = iris
    assert svc.registry.dialect == "postgresql"
    first = svc.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=10, random_state=0)
    assert (first["model_id"], first["version"]) == ("rf", 1)
    svc.train_model(LogisticRegression, X, y, model_id="rf", max_iter=500)
    assert svc.current_ref == "rf:2"
    cv = svc.cross_validate_model(LogisticRegression, X, y, cv_folds=3, model_id="rf:2", max_iter=500)
    assert len(cv["cv_scores"]) == 3 and svc.get_model_metadata("rf:2")["cv_scores"]["cv_folds"] == 3
    metrics = svc.evaluate_model(X, y, model_id="rf:1")
    assert metrics["accuracy"] > 0.9 and svc.get_model_metadata("rf", 1)["metrics"]["accuracy"] == metrics["accuracy"]
    importance = list(svc.get_feature_importance(model_id="rf:1").values())
    assert len(importance) == 4 and importance == sorted(importance, reverse=True)
    frame = svc.compare_models(["rf:1", "rf:2"], X, y)
    assert sorted(frame["version"]) == [1, 2]
    assert list(frame["accuracy"]) == sorted(frame["accuracy"], reverse=True)

    for fmt, version in (("joblib", 1), ("pickle", 2)):
        assert svc.save_model("rf", version=version, save_format=fmt)
    expected = svc.get_model("rf:1").predict(X)
    fresh = ModelService(db_type="postgresql", db_url=svc.registry.url, **where)
    try:
        assert fresh.load_model("rf:1")
        np.testing.assert_array_equal(fresh.predict(X), expected)
        assert fresh.get_model_metadata("rf")["file_format"] == "pickle"
        sidecar = json.loads(fresh.store.read_bytes("rf/v1.json"))
        assert sidecar["file_sha256"] == fresh.get_model_metadata("rf:1")["file_sha256"]
    finally:
        fresh.close()

    svc.update_model_metadata("rf:1", {"status": "production", "tags": {"team": "eu"}})
    svc.update_model_metadata("rf:2", {"status": "production"})
    assert [r["status"] for r in svc.list_models(model_id="rf", order_by="version")] == ["saved", "production"]
    assert svc.get_model_metadata("rf:1")["tags"] == {"team": "eu"}
    history = [(e["version"], e["event"], e["from_status"], e["to_status"]) for e in svc.model_history("rf")]
    assert history[-2:] == [(1, "status", "production", "saved"), (2, "status", "saved", "production")]

    Xr, yr = diabetes
    svc.train_model(LinearRegression, Xr, yr, model_id="lin_reg")
    assert [r["model_id"] for r in svc.list_models(search="lin_")] == ["lin_reg"]
    assert svc.list_models(search="%") == [] and svc.list_models(search="' OR 1=1 --") == []
    assert {(r["model_id"], r["version"]) for r in svc.list_models(latest_only=True)} == {("rf", 2), ("lin_reg", 1)}
    assert [r["version"] for r in svc.list_models(model_id="rf", order_by="-version", limit=1, offset=1)] == [1]
    assert svc.list_models(status="production")[0]["version"] == 2
    assert svc.registry.count() == 3

    assert svc.archive_model("rf") == 2
    assert svc.delete_model("rf:1") == 1
    assert not svc.store.exists("rf/v1.joblib") and not svc.store.exists("rf/v1.json")
    assert svc.store.exists("rf/v2.pkl")
    assert svc.model_history("rf", 1)[-1]["event"] == "deleted"
    with pytest.raises(ModelNotFoundError):
        svc.get_model_metadata("rf:1")


def test_tampered_file_is_refused(team, iris):
    svc, where = team
    X, y = iris
    svc.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
    svc.save_model("lr")
    staged = svc.store.stage("lr/v1.joblib", lambda fh: fh.write(b"\x80\x04N."))
    svc.store.publish(staged)
    fresh = ModelService(db_type="postgresql", db_url=svc.registry.url, **where)
    try:
        with pytest.raises(ArtifactIntegrityError, match="sha256"):
            fresh.load_model("lr")
    finally:
        fresh.close()


def test_db_url_from_environment(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELSERVICE_DB_URL", pg_url.replace("postgresql+psycopg://", "postgresql://"))
    with ModelService(db_type="postgresql", models_directory=tmp_path / "m") as svc:
        assert svc.registry.dialect == "postgresql"
        assert svc.registry.schema_version() == SCHEMA_VERSION
    monkeypatch.delenv("MODELSERVICE_DB_URL")
    with pytest.raises(InvalidInputError, match="MODELSERVICE_DB_URL"):
        ModelService(db_type="postgresql", models_directory=tmp_path / "m")


def test_non_finite_json_values_are_stored_as_null(pg_url):
    with Registry(pg_url) as reg:
        reg.add_version({"model_id": "m", "model_class": "X",
                         "metrics": {"r2": float("nan"), "ok": 1.0, "all": [float("inf"), 2.0]}})
        assert reg.get("m")["metrics"] == {"r2": None, "ok": 1.0, "all": [None, 2.0]}


def _open_registry(url, barrier, queue):
    try:
        barrier.wait(timeout=60)
        with Registry(url) as reg:
            queue.put(("ok", reg.add_version({"model_id": "first", "model_class": "X"})))
    except Exception as err:  # noqa: BLE001 - reported to the parent
        queue.put(("error", repr(err)))


def test_schema_is_created_once_when_processes_start_together(pg_url):
    n = 6
    results = run_together(_open_registry, [(pg_url,)] * n, timeout=120)
    assert [r for r in results if r[0] == "error"] == []
    assert sorted(r[1] for r in results) == list(range(1, n + 1))
    with Registry(pg_url) as reg, reg.atomic(write=False) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema_info)).scalar_one() == 1


def _open_and_migrate(url, barrier, queue):
    from jupyter_modelservice.registry import schema as schema_module

    def add_column(conn):
        conn.exec_driver_sql("ALTER TABLE model_metadata ADD COLUMN extra_col text")  # fails if run twice

    database_module.SCHEMA_VERSION = SCHEMA_VERSION + 1
    schema_module.MIGRATIONS[SCHEMA_VERSION] = add_column
    _open_registry(url, barrier, queue)


def test_processes_starting_together_migrate_once(pg_url):
    with Registry(pg_url) as reg:
        reg.add_version({"model_id": "first", "model_class": "X"})
    n = 4
    results = run_together(_open_and_migrate, [(pg_url,)] * n, timeout=120)
    assert [r for r in results if r[0] == "error"] == []
    assert sorted(r[1] for r in results) == list(range(2, n + 2))
    engine = sa.create_engine(pg_url)  # this process's code refuses the newer schema: read it raw
    with engine.connect() as conn:
        version = conn.execute(sa.select(schema_info.c.value)).scalar_one()
        columns = [c["name"] for c in sa.inspect(conn).get_columns("model_metadata")]
    engine.dispose()
    assert version == str(SCHEMA_VERSION + 1) and columns.count("extra_col") == 1


def test_migration_runs_in_one_transaction(pg_url, monkeypatch):
    from jupyter_modelservice.registry import schema as schema_module

    Registry(pg_url).close()
    calls = []

    def add_column(conn):
        calls.append(1)
        conn.exec_driver_sql("ALTER TABLE model_metadata ADD COLUMN extra_col text")

    def broken(conn):
        raise RuntimeError("migration step failed")

    monkeypatch.setattr(database_module, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    monkeypatch.setitem(schema_module.MIGRATIONS, SCHEMA_VERSION, add_column)
    monkeypatch.setitem(schema_module.MIGRATIONS, SCHEMA_VERSION + 1, broken)
    with pytest.raises(RuntimeError, match="step failed"):
        Registry(pg_url)
    monkeypatch.undo()
    with Registry(pg_url) as reg, reg.atomic(write=False) as conn:
        assert reg.schema_version() == SCHEMA_VERSION
        columns = {c["name"] for c in sa.inspect(conn).get_columns("model_metadata")}
    assert calls == [1] and "extra_col" not in columns  # the first step was rolled back too

    monkeypatch.setattr(database_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema_module.MIGRATIONS, SCHEMA_VERSION, add_column)
    with Registry(pg_url) as reg:
        assert reg.schema_version() == SCHEMA_VERSION + 1


def test_newer_schema_is_refused(pg_url):
    with Registry(pg_url) as reg, reg.atomic() as conn:
        conn.execute(schema_info.update().values(value=str(SCHEMA_VERSION + 3)))
    with pytest.raises(SchemaVersionError, match=str(SCHEMA_VERSION + 3)):
        Registry(pg_url)


def test_a_version_1_registry_gets_the_trust_column(pg_url):
    """The real upgrade 1 → 2: saved versions stay trusted, versions restored from sidecars do not."""
    now = "2024-01-01T00:00:00+00:00"
    with Registry(pg_url) as reg:
        reg.add_version({"model_id": "rf", "model_class": "RandomForestClassifier"})
        reg.import_version({"model_id": "lost", "version": 1, "model_class": "X", "training_date": now,
                            "status": "saved"},
                           [{"model_id": "lost", "version": 1, "event": "restored", "at": now,
                             "details": {"from": "sidecar", "path": "lost/v1.json"}}])
        with reg.atomic() as conn:  # back to what version 1 wrote
            downgrade(conn, 1)
            assert set(sa.inspect(conn).get_table_names()) == {"model_metadata", "model_events", "schema_info"}
    with Registry(pg_url) as reg:
        assert reg.schema_version() == SCHEMA_VERSION  # every step from 1 ran
        assert reg.get("rf", 1)["trust"] is None and reg.get("lost", 1)["trust"] == "unverified"


@pytest.mark.postgres
def test_versions_allocated_under_the_lock_never_collide(pg_url):
    """Threads (each its own transaction) import versions of one id at once, all asking for number 1."""

    from jupyter_modelservice.registry.engine import utcnow

    got = []

    def importer(start) -> None:
        with Registry(pg_url) as reg:
            start.wait(timeout=60)
            for _ in range(5):
                with reg.atomic():
                    version = reg.allocate_version("shared", prefer=1)
                    assert reg.import_version({"model_id": "shared", "version": version, "model_class": "X",
                                               "training_date": utcnow(), "status": "saved"})
                got.append(version)

    errors = errors_in_threads(importer, 6, timeout=120)
    assert errors == []
    assert sorted(got) == list(range(1, 31))

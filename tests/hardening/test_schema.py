"""Registries of older schema versions are upgraded on open, atomically; newer ones are refused.

These tests pretend to be a newer package: they raise ``SCHEMA_VERSION`` (in
both modules that read it) past the current one, ``NOW``, and add steps to
the real ``MIGRATIONS``. The real upgrade 1 → 2 is tested in ``test_trust``.
"""

from __future__ import annotations

import gc
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from sklearn.dummy import DummyClassifier

from jupyter_modelservice import ModelService, RegistryError, SchemaVersionError
from jupyter_modelservice.cli import main
from jupyter_modelservice.registry import database, schema
from tests.threads import errors_in_threads

NOW = schema.SCHEMA_VERSION


def _pretend_version(monkeypatch, version, steps):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", version)
    monkeypatch.setattr(database, "SCHEMA_VERSION", version)
    for start, step in steps.items():
        monkeypatch.setitem(schema.MIGRATIONS, start, step)


@pytest.fixture
def old_registry(tmp_path, tiny_data):
    """A registry of the current schema version with one saved model."""
    X, y = tiny_data
    models = tmp_path / "models"
    with ModelService(models_directory=models) as service:
        service.train_model(DummyClassifier, X, y, model_id="rf")
        service.save_model("rf")
    return models


def _state(db):
    """The logical content of a SQLite file, and its recorded schema version."""
    gc.collect()  # connections of a Registry that failed to open
    with sqlite3.connect(db) as con:
        dump = list(con.iterdump())
        version = con.execute("SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone()[0]
    con.close()
    return dump, int(version)


def _add_owner(conn):
    conn.exec_driver_sql("ALTER TABLE model_metadata ADD COLUMN owner VARCHAR(100)")
    conn.exec_driver_sql("UPDATE model_metadata SET owner = 'unknown'")


def _index_events(conn):
    conn.exec_driver_sql("CREATE INDEX ix_model_events_at ON model_events (at)")


def test_an_older_registry_is_upgraded_step_by_step_on_open(old_registry, monkeypatch):
    _pretend_version(monkeypatch, NOW + 2, {NOW: _add_owner, NOW + 1: _index_events})
    with ModelService(models_directory=old_registry) as service:
        assert service.registry.schema_version() == NOW + 2
        assert service.load_model("rf")
        with service.registry.atomic(write=False) as conn:
            owners = conn.exec_driver_sql("SELECT owner FROM model_metadata").scalars().all()
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("model_events")}
    assert owners == ["unknown"] and "ix_model_events_at" in indexes
    with ModelService(models_directory=old_registry) as again:  # already current: nothing runs twice
        assert again.registry.schema_version() == NOW + 2


def _broken(conn):
    conn.exec_driver_sql("DROP TABLE model_events")
    raise RuntimeError("disk on fire")


@pytest.mark.parametrize("steps, failing", [
    ({NOW: _add_owner, NOW + 1: _broken}, f"{NOW + 1} to {NOW + 2}"),           # a later step fails
    ({NOW: _add_owner, NOW + 1: lambda conn: conn.exec_driver_sql("ALTER TABLE nope ADD x INT")},
     f"{NOW + 1} to {NOW + 2}"),
    ({NOW: _broken}, f"{NOW} to {NOW + 1}"),
    ({NOW: _add_owner}, f"{NOW + 1} to {NOW + 2}"),                             # a step is missing
])
def test_a_failing_upgrade_is_rolled_back_and_leaves_the_file_untouched(old_registry, monkeypatch,
                                                                         steps, failing):
    db = old_registry / "registry.db"
    before = _state(db)
    _pretend_version(monkeypatch, NOW + 2, steps)
    with pytest.raises(RegistryError) as info:
        ModelService(models_directory=old_registry)
    message = str(info.value)
    assert f"schema version {failing}" in message
    assert "untouched" in message or "left as it was" in message
    assert _state(db) == before
    monkeypatch.undo()
    with ModelService(models_directory=old_registry) as service:  # the old package still opens it
        assert service.registry.schema_version() == NOW and service.load_model("rf")


def test_a_registry_claiming_a_version_no_package_wrote_is_refused(old_registry):
    db = old_registry / "registry.db"
    with sqlite3.connect(db) as con:
        con.execute("UPDATE schema_info SET value = '0' WHERE key = 'schema_version'")
    con.close()
    before = _state(db)
    with pytest.raises(RegistryError, match="from schema version 0 to 1"):
        ModelService(models_directory=old_registry)
    assert _state(db) == before


def test_a_newer_registry_is_refused_untouched_naming_both_versions(old_registry, capsys):
    db = old_registry / "registry.db"
    with sqlite3.connect(db) as con:
        con.execute("UPDATE schema_info SET value = ? WHERE key = 'schema_version'", (str(NOW + 1),))
    con.close()
    gc.collect()
    before = db.read_bytes()
    with pytest.raises(SchemaVersionError) as info:
        ModelService(models_directory=old_registry)
    assert f"schema version {NOW + 1}" in str(info.value) and f"up to version {NOW}" in str(info.value)
    assert main(["--dir", str(old_registry), "list"]) == 1
    err = capsys.readouterr().err
    assert f"schema version {NOW + 1}" in err and f"up to version {NOW}" in err and "Traceback" not in err
    gc.collect()
    assert db.read_bytes() == before


def test_processes_opening_an_old_registry_together_upgrade_it_once(old_registry, monkeypatch):
    runs = []

    def counted(conn):
        runs.append(threading.get_ident())
        _add_owner(conn)

    _pretend_version(monkeypatch, NOW + 1, {NOW: counted})

    def open_it(gate):
        gate.wait()
        ModelService(models_directory=old_registry).close()

    errors = errors_in_threads(open_it, 4)
    assert not errors and len(runs) == 1
    assert _state(old_registry / "registry.db")[1] == NOW + 1

"""The registry's schema, pinned: the tables of schema versions 3, 4 and 10 as written out here, the
upgrade of a version-1 registry step by step, and how a failed or unknown step is reported.

The tables ``model_blobs``, ``evaluations``, ``evaluation_resamples`` and ``model_ids`` must never change in
place (a registry upgraded by their step and one created new must agree): the description below
is the contract, written out by hand, not read from the code.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from jupyter_modelservice.exceptions import RegistryError
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.schema import MIGRATIONS, SCHEMA_VERSION, Migrations, model_metadata
from tests.integration.conftest import pg_database, pg_url  # noqa: F401 - fixtures used by name
from tests.old_schema import downgrade

#: table -> [(column, type, length, nullable)], in order; then its primary key and foreign keys.
TABLES = {
    "model_blobs": [
        ("model_id", "VARCHAR", 128, False), ("version", "INTEGER", None, False),
        ("path", "VARCHAR", 1024, False), ("nbytes", "BIGINT", None, False),
        ("stored_at", "VARCHAR", 40, False), ("data", "BINARY", None, False),
    ],
    "evaluations": [
        ("evaluation_id", "INTEGER", None, False), ("model_id", "VARCHAR", 128, False),
        ("version", "INTEGER", None, False), ("kind", "VARCHAR", 10, False),
        ("task_type", "VARCHAR", 20, True), ("data_fingerprint", "VARCHAR", 80, False),
        ("n_samples", "INTEGER", None, True), ("metrics", "JSON", None, True), ("details", "JSON", None, True),
        ("predictions_sha256", "VARCHAR", 80, True), ("predictions", "BINARY", None, True),
        ("evaluated_at", "VARCHAR", 40, False), ("actor", "VARCHAR", 200, True),
    ],
    "evaluation_resamples": [
        ("evaluation_id", "INTEGER", None, False), ("metric", "VARCHAR", 30, False),
        ("n_bootstrap", "INTEGER", None, False), ("random_state", "BIGINT", None, False),
        ("scheme", "INTEGER", None, False), ("resampled", "BINARY", None, False),
    ],
    "model_ids": [
        ("model_id", "VARCHAR", 128, False), ("latest_version", "INTEGER", None, False),
        ("versions", "INTEGER", None, False),
    ],
}
PRIMARY_KEYS = {
    "model_blobs": ["model_id", "version"],
    "evaluations": ["evaluation_id"],
    "evaluation_resamples": ["evaluation_id", "metric", "n_bootstrap", "random_state", "scheme"],
    "model_ids": ["model_id"],
}
FOREIGN_KEYS = {
    "model_blobs": [("fk_model_blobs_version", ["model_id", "version"], "model_metadata",
                     ["model_id", "version"], "CASCADE")],
    "evaluations": [("fk_evaluations_version", ["model_id", "version"], "model_metadata",
                     ["model_id", "version"], "CASCADE")],
    "evaluation_resamples": [("fk_evaluation_resamples_evaluation", ["evaluation_id"], "evaluations",
                              ["evaluation_id"], "CASCADE")],
    "model_ids": [],
}
#: What the driver's type names mean here.
_KINDS = {"VARCHAR": "VARCHAR", "INTEGER": "INTEGER", "BIGINT": "BIGINT", "BLOB": "BINARY", "BYTEA": "BINARY",
          "JSON": "JSON"}


def _columns(inspector, table):
    found = []
    for column in inspector.get_columns(table):
        kind = _KINDS[type(column["type"]).__name__.upper()]
        found.append((column["name"], kind, getattr(column["type"], "length", None), column["nullable"]))
    return found


def _foreign_keys(inspector, table):
    return [(fk["name"], fk["constrained_columns"], fk["referred_table"], fk["referred_columns"],
             (fk.get("options") or {}).get("ondelete")) for fk in inspector.get_foreign_keys(table)]


def check_tables(registry):
    with registry.atomic(write=False) as conn:
        inspector = sa.inspect(conn)
        for table, columns in TABLES.items():
            assert _columns(inspector, table) == columns, table
            assert inspector.get_pk_constraint(table)["constrained_columns"] == PRIMARY_KEYS[table], table
            assert _foreign_keys(inspector, table) == FOREIGN_KEYS[table], table
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("evaluations")}
        assert indexes == {"ix_evaluations_version_data": ["model_id", "version", "data_fingerprint"]}


# -- a version-1 registry, upgraded ----------------------------------------------------------------

def _event(model_id, event, details):
    return {"model_id": model_id, "version": 1, "event": event, "from_status": None, "to_status": "saved",
            "actor": "a", "at": "2020-01-01T00:00:00", "details": details}


#: id -> the history of its version 1, and the trust the 1 -> 2 step gives it
HISTORIES = {
    "restored_from_sidecar": ([_event("restored_from_sidecar", "restored", {"from": "sidecar", "path": "p"})],
                              "unverified"),
    "restored_otherwise": ([_event("restored_otherwise", "restored", {"from": "backup"})], None),
    "imported_from_archive": ([_event("imported_from_archive", "imported", {"archive": "a.zip"})], "unverified"),
    "imported_otherwise": ([_event("imported_otherwise", "imported", {"from": "sidecar"})], "unverified"),
    "registered_from_sidecar": ([_event("registered_from_sidecar", "registered", {"from": "sidecar"})], None),
    "restored_without_details": ([_event("restored_without_details", "restored", None)], None),
    "restored_with_a_list": ([_event("restored_with_a_list", "restored", ["archive"])], None),
    "saved_here": ([], None),
}


def _version_1(path):
    """A registry file as schema version 1 wrote it, with the rows of `HISTORIES`."""
    with Registry(f"sqlite:///{path}") as registry:
        for model_id, (events, _) in HISTORIES.items():
            registry.import_version({"model_id": model_id, "version": 1, "model_class": "X", "status": "saved",
                                     "training_date": "2020-01-01T00:00:00", "file_path": f"{model_id}/v1"},
                                    events)
        # a later version of the same id, saved here: it stays trusted
        registry.import_version({"model_id": "restored_from_sidecar", "version": 2, "model_class": "X",
                                 "status": "saved", "training_date": "2020-01-02T00:00:00"})
    con = sqlite3.connect(path)
    with con:
        downgrade(con, 1)
    con.close()


@pytest.fixture
def upgraded(tmp_path):
    path = tmp_path / "registry.db"
    _version_1(path)
    registry = Registry(f"sqlite:///{path}")
    yield registry
    registry.close()


def test_a_version_1_registry_is_upgraded_to_the_current_version(upgraded):
    assert upgraded.schema_version() == SCHEMA_VERSION


@pytest.mark.parametrize("model_id", sorted(HISTORIES))
def test_the_upgrade_marks_versions_restored_from_a_sidecar_or_imported_from_an_archive_unverified(upgraded,
                                                                                                  model_id):
    assert upgraded.get(model_id, 1)["trust"] == HISTORIES[model_id][1]


def test_the_upgrade_leaves_the_other_versions_of_that_id_trusted(upgraded):
    assert upgraded.get("restored_from_sidecar", 2)["trust"] is None


def test_the_upgrade_adds_the_probe_and_the_blake3_columns(upgraded):
    upgraded.set_values("saved_here", 1, {"probe": {"rows": [[1, 2]]}, "file_blake3": "b" * 64})
    got = upgraded.get("saved_here", 1)
    assert (got["probe"], got["file_blake3"]) == ({"rows": [[1, 2]]}, "b" * 64)


def _model_metadata_columns(registry):
    with registry.atomic(write=False) as conn:
        return [(c["name"], str(c["type"]), c["nullable"]) for c in sa.inspect(conn).get_columns("model_metadata")]


def test_the_upgrade_adds_the_columns_of_model_metadata_as_a_new_registry_has_them(upgraded, tmp_path):
    # SQLite keeps a column's name as ALTER TABLE spells it: ADD COLUMN TRUST would name it 'TRUST'
    with Registry(f"sqlite:///{tmp_path / 'new.db'}") as new:
        assert _model_metadata_columns(upgraded) == _model_metadata_columns(new)


def test_the_upgrade_creates_the_tables_of_versions_3_4_and_10_as_they_are_defined(upgraded):
    check_tables(upgraded)


def test_a_new_registry_has_the_tables_of_versions_3_4_and_10_as_they_are_defined(tmp_path):
    with Registry(f"sqlite:///{tmp_path / 'new.db'}") as registry:
        check_tables(registry)


def test_after_the_upgrade_deleting_a_version_deletes_its_bytes_and_evaluations(upgraded):
    upgraded.put_model_bytes("saved_here", 1, "saved_here/v1", b"abc")
    upgraded.add_evaluation({"model_id": "saved_here", "version": 1, "kind": "test", "data_fingerprint": "f"})
    upgraded.delete("saved_here", 1)
    with upgraded.atomic(write=False) as conn:
        left = [conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in ("model_blobs", "evaluations")]
    assert left == [0, 0]


# -- reporting a failed or missing step ------------------------------------------------------------

def test_a_missing_step_is_a_registry_error_naming_the_versions():
    with pytest.raises(RegistryError) as info:
        Migrations()[41]
    message = str(info.value)
    assert "from schema version 41 to 42" in message and f"versions 1 to {SCHEMA_VERSION}" in message


def test_a_failing_step_is_a_registry_error_naming_the_versions_and_the_error():
    def step(conn):
        raise ValueError("no room")

    steps = Migrations({3: step})
    with pytest.raises(RegistryError) as info:
        steps[3](None)
    assert str(info.value) == ("Upgrading the registry from schema version 3 to 4 failed (ValueError: no room); "
                               "the upgrade was rolled back and the registry left as it was.")
    assert isinstance(info.value.__cause__, ValueError)


def test_a_step_failing_with_a_registry_error_passes_it_on_as_it_is():
    original = RegistryError("as it was")

    def step(conn):
        raise original

    with pytest.raises(RegistryError) as info:
        Migrations({3: step})[3](None)
    assert info.value is original


def test_a_step_keeps_its_name_and_description():
    def add_owner(conn):
        """Adds the owner."""

    wrapped = Migrations({1: add_owner})[1]
    assert (wrapped.__name__, wrapped.__doc__) == ("add_owner", "Adds the owner.")


def test_a_step_without_a_name_is_called_migration():
    class Step:
        def __call__(self, conn):
            pass

    assert Migrations({1: Step()})[1].__name__ == "migration"


def test_a_step_that_succeeds_returns_nothing_and_runs_once():
    calls = []
    Migrations({2: calls.append})[2]("conn")
    assert calls == ["conn"]


def test_every_step_from_version_1_exists():
    assert [step for step in range(1, SCHEMA_VERSION) if step in MIGRATIONS] == list(range(1, SCHEMA_VERSION))


# -- PostgreSQL ------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_postgres_has_the_tables_of_versions_3_4_and_10_as_they_are_defined(pg_url):  # noqa: F811
    with Registry(pg_url) as registry:
        check_tables(registry)


@pytest.mark.postgres
def test_postgres_upgrade_adds_the_columns_of_model_metadata_by_their_names(pg_url):  # noqa: F811
    with Registry(pg_url) as registry, registry.atomic() as conn:
        downgrade(conn, 1)
    with Registry(pg_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert [name for name, *_ in _model_metadata_columns(upgraded)] == [c.name for c in model_metadata.columns]


@pytest.mark.postgres
def test_postgres_stores_model_bytes_uncompressed(pg_url):  # noqa: F811
    with Registry(pg_url) as registry, registry.atomic(write=False) as conn:
        storage = conn.exec_driver_sql(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'model_blobs'::regclass AND attname = 'data'"
        ).scalar()
    assert storage == "e"  # EXTERNAL: out of line, never compressed


@pytest.mark.postgres
def test_postgres_numbers_evaluations_itself(pg_url):  # noqa: F811
    with Registry(pg_url) as registry:
        registry.add_version({"model_id": "rf", "model_class": "X"})
        first = registry.add_evaluation({"model_id": "rf", "version": 1, "kind": "test", "data_fingerprint": "f"})
        second = registry.add_evaluation({"model_id": "rf", "version": 1, "kind": "cv", "data_fingerprint": "f"})
    assert second == first + 1

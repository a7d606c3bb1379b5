"""``model_ids`` (schema 10): one row per model id, kept by triggers whatever writes the versions, and the
search and ``latest_only`` built on it, checked against the rows themselves on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from jupyter_modelservice.registry import Registry, queries
from jupyter_modelservice.registry.schema import model_metadata
from tests.old_schema import downgrade

from .helpers import refs


@pytest.fixture(params=["sqlite", "postgresql"])
def any_reg(request, tmp_path):
    """An empty registry on SQLite, or in a database of the PostgreSQL server."""
    if request.param == "sqlite":
        registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        registry = Registry(request.getfixturevalue("pg_url"))
    yield registry
    registry.close()


def _models(registry):
    with registry.atomic(write=False) as conn:
        return {r.model_id: (r.latest_version, r.versions)
                for r in conn.exec_driver_sql("SELECT model_id, latest_version, versions FROM model_ids")}


def _from_versions(registry):
    """What ``model_ids`` must hold, computed from the versions."""
    found: dict[str, tuple[int, int]] = {}
    for row in registry.list():
        latest, count = found.get(row["model_id"], (0, 0))
        found[row["model_id"]] = (max(latest, row["version"]), count + 1)
    return found


def test_models_follows_every_way_versions_come_and_go(any_reg):
    for model_id in ["rf", "rf", "svc", "rf"]:
        any_reg.add_version({"model_id": model_id, "model_class": "X"})
    assert _models(any_reg) == {"rf": (3, 3), "svc": (1, 1)}
    # an older version number imported after a newer one: the latest stays the highest
    any_reg.import_version({"model_id": "old", "version": 7, "model_class": "X", "status": "saved", "training_date": "t"})
    any_reg.import_version({"model_id": "old", "version": 2, "model_class": "X", "status": "saved", "training_date": "t"})
    # rows inserted by a statement of the caller's own, several at once
    with any_reg.atomic() as conn:
        conn.execute(model_metadata.insert(), [
            {"model_id": "bulk", "version": v, "model_class": "X", "status": "trained", "training_date": "t"}
            for v in (1, 5, 3)])
    assert _models(any_reg) == {"rf": (3, 3), "svc": (1, 1), "old": (7, 2), "bulk": (5, 3)} == _from_versions(any_reg)
    any_reg.delete("rf", 3)  # the latest: the one below it becomes the latest
    any_reg.delete("bulk", 3)  # not the latest
    any_reg.delete("old", 2)
    assert _models(any_reg) == {"rf": (2, 2), "svc": (1, 1), "old": (7, 1), "bulk": (5, 2)} == _from_versions(any_reg)
    any_reg.delete("svc")
    any_reg.delete("bulk")  # every version at once
    with any_reg.atomic() as conn:
        conn.execute(model_metadata.delete().where(model_metadata.c.model_id == "old"))
    assert _models(any_reg) == {"rf": (2, 2)} == _from_versions(any_reg)


def test_a_failed_write_leaves_models_as_it_was(any_reg):
    any_reg.add_version({"model_id": "rf", "model_class": "X"})
    with pytest.raises(RuntimeError), any_reg.atomic():
        any_reg.add_version({"model_id": "rf", "model_class": "X"})
        any_reg.add_version({"model_id": "new", "model_class": "X"})
        raise RuntimeError("rolled back")
    assert _models(any_reg) == {"rf": (1, 1)}


def test_latest_only_shows_the_version_below_a_deleted_latest_one(any_reg):
    for _ in range(3):
        any_reg.add_version({"model_id": "rf", "model_class": "X"})
    any_reg.delete("rf", 3)
    assert refs(any_reg.list(latest_only=True)) == [("rf", 2)]
    assert refs(any_reg.list(latest_only=True, limit=10, order_by="-validation_score")) == [("rf", 2)]


#: Ids and classes with letter case, LIKE wildcards and shared pieces; searches for each way to match.
IDS = ["rf", "RF_big", "forest-1", "Forest_2", "n%_x", "svc", "svm_50%", "m12", "m120", "xm1", "é-model", "É-other"]
CLASSES = ["RandomForestClassifier", "SVC", "LinearSVC", "Ridge", "MyModel_v2"]
SEARCHES = ["rf", "RF", "forest", "FOREST", "_", "%", "%_", "n%", "50%", "m12", "M1", "svc", "SVC", "linear",
            "classifier", "model_", "e", "é", "É", "x", "zzz", "", "r f", "\\", "'", "Ridge", "_v"]


def _expected(registry, text):
    """The rows a search must return: its text tested on every row's id and class (``LIKE`` on SQLite,
    ``ILIKE`` on PostgreSQL), by id."""
    pattern = queries.search_pattern(text)
    condition = sa.or_(queries._contains(model_metadata.c.model_id, pattern),
                       queries._contains(model_metadata.c.model_class, pattern))
    with registry.atomic(write=False) as conn:
        rows = conn.execute(sa.select(model_metadata.c.model_id, model_metadata.c.version).where(condition)
                            .order_by(model_metadata.c.model_id, model_metadata.c.version.desc())).all()
    return [tuple(r) for r in rows]


def _folded(rows, text):
    """The same, by hand: ASCII letters in any case (SQLite's ``LIKE``)."""
    def fold(value):
        return "".join(c.lower() if c.isascii() else c for c in value)
    return [(r["model_id"], r["version"]) for r in rows
            if fold(text) in fold(r["model_id"]) or fold(text) in fold(r["model_class"])]


@pytest.mark.parametrize("indexed_up_to", [0, 3, 10_000])
def test_a_search_matches_the_text_in_the_id_or_class_whichever_way_it_is_run(any_reg, monkeypatch, indexed_up_to):
    """The rows of a text test of every row, whether the matches are looked up (few) or tested in the
    page's order (many), in a list, a page, a count or a stream."""
    monkeypatch.setattr("jupyter_modelservice.registry.reads.INDEXED_SEARCH", indexed_up_to)
    rng = random.Random(0)
    for i in range(40):
        any_reg.add_version({"model_id": IDS[i % len(IDS)], "model_class": rng.choice(CLASSES),
                             "validation_score": rng.random()})
    every = any_reg.list(order_by="model_id")
    for text in SEARCHES:
        found = refs(any_reg.list(search=text, order_by="model_id"))
        assert found == (_expected(any_reg, text) if text else refs(every)), text
        if any_reg.dialect == "sqlite":
            assert found == _folded(every, text), text
        assert refs(any_reg.list(search=text, order_by="model_id", limit=5, offset=2)) == found[2:7], text
        assert refs(any_reg.list(search=text, order_by="-validation_score", limit=4)) == \
            refs(any_reg.list(search=text, order_by="-validation_score"))[:4], text
        assert any_reg.count(search=text) == len(found), text
        assert any_reg.count(search=text, limit=3) == min(3, len(found)), text
        assert refs(any_reg.iter_rows(search=text, order_by="model_id")) == found, text
    assert any_reg.list(search="zzz") == [] and any_reg.count(search="zzz") == 0


def test_a_version_9_registry_gets_models_filled_from_its_versions_and_kept_after(any_reg):
    for model_id in ["rf", "svc", "rf", "rf"]:
        any_reg.add_version({"model_id": model_id, "model_class": "X"})
    any_reg.delete("rf", 2)
    with any_reg.atomic() as conn:
        downgrade(conn, 9)
        assert not sa.inspect(conn).has_table("model_ids")
        if any_reg.dialect == "sqlite":
            conn.exec_driver_sql("ANALYZE")  # a registry analysed before: the new table is analysed too
    any_reg.close()
    upgraded = Registry(any_reg.url)
    try:
        assert upgraded.schema_version() == 10
        assert _models(upgraded) == {"rf": (3, 2), "svc": (1, 1)}
        with upgraded.atomic(write=False) as conn:
            if upgraded.dialect == "sqlite":
                analysed = conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'model_ids'").scalar()
            else:  # never analysed: -1
                analysed = conn.exec_driver_sql("SELECT reltuples >= 0 FROM pg_class WHERE relname = 'model_ids' "
                                                "AND relkind = 'r' AND pg_table_is_visible(oid)").scalar()
            assert analysed
        upgraded.add_version({"model_id": "rf", "model_class": "X"})
        upgraded.delete("svc")
        assert _models(upgraded) == {"rf": (4, 3)} == _from_versions(upgraded)
    finally:
        upgraded.close()


def _walk(registry, text, **kw):
    with registry.atomic(write=False) as conn:
        return registry._search(conn, text, **kw).walk


def test_a_search_reads_in_order_only_past_its_limit_of_versions_to_look_up(reg, monkeypatch):
    """Up to `INDEXED_SEARCH` matching versions (those of the ids, then those of the classes) are looked up;
    past it they are tested in the page's order; a count always looks them up."""
    monkeypatch.setattr("jupyter_modelservice.registry.reads.INDEXED_SEARCH", 2)
    for model_id, cls in [("rf", "Forest"), ("rf", "Forest"), ("svc", "SVC"), ("gb", "Boosting")]:
        reg.add_version({"model_id": model_id, "model_class": cls})
    assert _walk(reg, "rf") is False  # two versions: at the limit
    assert _walk(reg, "s") is True  # svc's one by id, then Forest's, SVC's and Boosting's by class: past 2
    assert _walk(reg, "r") is True  # rf's two by id, and Forest's two by class (counted, though the same rows)
    assert _walk(reg, "svc") is False and _walk(reg, "boost") is False  # one version, by id or by class
    assert _walk(reg, "s", walk=False) is False and _walk(reg, "zzz") is False
    assert refs(reg.list(search="s", order_by="model_id")) == [("gb", 1), ("rf", 2), ("rf", 1), ("svc", 1)]


def _raw(registry, tmp_path):
    """A connection of another client (DB-API), committing on its own."""
    if registry.dialect == "sqlite":
        import sqlite3

        return sqlite3.connect(tmp_path / "registry.db", isolation_level=None)
    import psycopg

    from tests.integration.conftest import _libpq

    return psycopg.connect(_libpq(registry.url), autocommit=True)


READS = {
    "list": lambda reg: refs(reg.list(search="resnet", order_by="model_id")),
    "count": lambda reg: reg.count(search="resnet"),
    "iter_rows": lambda reg: refs(reg.iter_rows(search="resnet", order_by="model_id")),
}
BEFORE_AND_AFTER = {"list": [[("resnet-a", 1)], [("other", 1), ("resnet-a", 1), ("resnet-b", 1)]],
                    "count": [1, 3]}
BEFORE_AND_AFTER["iter_rows"] = BEFORE_AND_AFTER["list"]


@pytest.mark.parametrize("read", sorted(READS))
def test_a_search_and_its_page_read_one_state_of_the_registry(any_reg, tmp_path, read):
    """Another client commits two matching versions (one by id, one by class) while a search reads: the
    page, count or stream holds both or neither, never one of them."""
    any_reg.add_version({"model_id": "resnet-a", "model_class": "Linear"})
    other = _raw(any_reg, tmp_path)
    committed = []

    def commit_between(conn, cursor, statement, *args):
        if "class_names" in statement and not committed:
            committed.append(True)
            other.execute("INSERT INTO model_metadata (model_id, version, model_class, training_date, status) "
                          "VALUES ('resnet-b', 1, 'Linear', '2030', 'trained'), "
                          "('other', 1, 'ResNet50', '2030', 'trained')")

    sa.event.listen(any_reg.engine, "after_cursor_execute", commit_between)
    try:
        first = READS[read](any_reg)
    finally:
        sa.event.remove(any_reg.engine, "after_cursor_execute", commit_between)
        other.close()
    assert committed
    assert first in BEFORE_AND_AFTER[read]
    assert READS[read](any_reg) == BEFORE_AND_AFTER[read][1]


def test_a_delete_waiting_for_a_writer_of_the_same_id_counts_its_version(pg_url):
    """Two clients outside the registry's own locks: one inserts version 3 and holds its transaction open,
    the other deletes version 1 meanwhile (it waits for the id's row). The latest is 3 after both."""
    import threading

    import psycopg

    from tests.integration.conftest import _libpq

    with Registry(pg_url) as registry:
        for version in (1, 2):
            registry.import_version({"model_id": "race", "version": version, "model_class": "K",
                                     "training_date": "2020", "status": "trained"})
        with psycopg.connect(_libpq(pg_url)) as inserting, psycopg.connect(_libpq(pg_url)) as deleting:
            inserting.execute("INSERT INTO model_metadata (model_id, version, model_class, training_date, status) "
                              "VALUES ('race', 3, 'K', '2020', 'trained')")
            thread = threading.Thread(target=lambda: (deleting.execute(
                "DELETE FROM model_metadata WHERE model_id = 'race' AND version = 1"), deleting.commit()))
            thread.start()
            thread.join(0.5)
            assert thread.is_alive()  # waiting for the id's row
            inserting.commit()
            thread.join(10)
        assert _models(registry) == {"race": (3, 2)} == _from_versions(registry)
        assert refs(registry.list(latest_only=True)) == [("race", 3)]


def test_a_writer_with_another_search_path_keeps_the_registrys_own_model_ids(pg_url, pg_database):
    """A client whose ``search_path`` does not name the registry's schema writes to its table by full name:
    the trigger still keeps that schema's ``model_ids``."""
    import re
    from urllib.parse import unquote

    import psycopg

    from tests.integration.conftest import _libpq

    schema = re.search(r"search_path=([A-Za-z0-9_]+)", unquote(pg_url)).group(1)
    with Registry(pg_url) as registry:
        registry.add_version({"model_id": "rf", "model_class": "X"})
        with psycopg.connect(_libpq(pg_database), autocommit=True) as elsewhere:
            elsewhere.execute(f'INSERT INTO "{schema}".model_metadata (model_id, version, model_class, training_date, '
                              "status) VALUES ('rf', 2, 'X', '2030', 'trained'), ('new', 1, 'X', '2030', 'trained')")
            elsewhere.execute(f"DELETE FROM \"{schema}\".model_metadata WHERE model_id = 'rf' AND version = 1")
        assert _models(registry) == {"rf": (2, 1), "new": (1, 1)} == _from_versions(registry)

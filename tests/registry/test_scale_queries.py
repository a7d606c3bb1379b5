"""What keeps a large registry fast, checked as behaviour: capped counts, the shape of latest_only and
search, rows read in batches, and the schema-7 and -9 indexes (created fresh, added by the upgrade, which keeps
one already there and refreshes only statistics SQLite already had, used)."""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing

import pytest
import sqlalchemy as sa

from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.queries import rows_query
from jupyter_modelservice.registry.schema import SCHEMA_VERSION, SORT_INDEXES, STATUS_SORT_INDEXES, model_metadata
from tests.old_schema import downgrade

from .helpers import refs

INDEXES = {index.name for index in SORT_INDEXES}


@pytest.fixture
def filled(reg):
    """rf:1..3 (v3 archived), svc:1..2, Forest_2:1 (class LinearSVC), n%_x:1 (a LIKE wildcard in its id)."""
    for model_id, cls, status in [("rf", "RandomForestClassifier", "saved"), ("svc", "SVC", "trained"),
                                  ("rf", "RandomForestClassifier", "saved"), ("Forest_2", "LinearSVC", "saved"),
                                  ("svc", "SVC", "production"), ("rf", "RandomForestClassifier", "archived"),
                                  ("n%_x", "Ridge", "saved")]:
        reg.add_version({"model_id": model_id, "model_class": cls, "status": status,
                         "validation_score": 0.5 + 0.05 * reg.next_version(model_id)})
    return reg


def test_count_with_a_limit_stops_there(filled):
    assert filled.count() == 7
    assert [filled.count(limit=n) for n in (1, 3, 7, 8, 100)] == [1, 3, 7, 7, 7]
    assert filled.count(search="rf", limit=2) == 2 and filled.count(search="rf", limit=10) == 3
    assert filled.count(status="production", limit=5) == 1
    assert filled.count(where="validation_score > 0.6", limit=1) == 1


def test_latest_only_keeps_an_id_whose_latest_version_matches_the_filters(filled):
    assert refs(filled.list(latest_only=True, order_by="model_id")) == [("Forest_2", 1), ("n%_x", 1), ("rf", 3),
                                                                       ("svc", 2)]
    # rf:3 (archived) is the latest rf: a saved rf:2 is not shown in its place
    assert refs(filled.list(latest_only=True, status="saved", order_by="model_id")) == [("Forest_2", 1), ("n%_x", 1)]
    assert refs(filled.list(latest_only=True, order_by="-validation_score", limit=2)) == [("rf", 3), ("svc", 2)]
    assert refs(filled.list(latest_only=True, search="svc", order_by="model_id")) == [("Forest_2", 1), ("svc", 2)]


def test_search_ignores_ascii_case_and_matches_wildcards_literally(filled):
    assert refs(filled.list(search="FOREST", order_by="model_id")) == [("Forest_2", 1), ("rf", 3), ("rf", 2),
                                                                      ("rf", 1)]
    assert refs(filled.list(search="t_2")) == [("Forest_2", 1)]
    assert refs(filled.list(search="%_")) == [("n%_x", 1)]
    assert refs(filled.list(search="linearsvc")) == [("Forest_2", 1)]
    assert filled.list(search="no such model") == []


@pytest.mark.parametrize("filters", [{}, {"status": "saved"}, {"search": "rf", "order_by": "validation_score"},
                                     {"model_id": "rf", "order_by": "version"}, {"latest_only": True},
                                     {"where": "validation_score >= 0.6", "limit": 2}])  # 3 match: the limit counts
def test_iter_rows_gives_the_rows_of_list_in_batches(filled, filters):
    assert list(filled.iter_rows(batch=2, **filters)) == filled.list(**filters)


def test_iter_rows_leaves_the_caller_free_to_write_between_rows(filled):
    with closing(filled.iter_rows(order_by="model_id", batch=1)) as rows:
        first = next(rows)
        filled.add_version({"model_id": "late", "model_class": "SVC"})  # not inside the reader's transaction
        rest = list(rows)
    assert first["model_id"] == "Forest_2" and len(rest) == 6
    assert filled.get("late")["version"] == 1


def test_iter_rows_inside_a_transaction_sees_its_writes(filled):
    with filled.atomic():
        filled.add_version({"model_id": "new", "model_class": "SVC"})
        assert ("new", 1) in refs(filled.iter_rows())
    assert filled.count() == 8


def _plan(reg, walk=True, **filters):
    """SQLite's plan of a page: the steps finding its keys, and the others (reading its rows). A search
    tests its versions in the page's order (``walk``, as when it matches many) or looks them up."""
    with reg.atomic(write=False) as conn:
        if filters.get("search"):
            filters["search"] = dataclasses.replace(reg._search(conn, filters["search"]), walk=walk)
        query = rows_query(**{"status": None, "model_id": None, "search": None, "order_by": "-training_date",
                              "limit": 100, "offset": 0, "latest_only": False, **filters})
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        steps = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    keys = {steps[0][0]}  # the first step materializes the page's keys; its descendants find them
    for node, parent, _, _ in steps:
        if parent in keys:
            keys.add(node)
    return (" | ".join(detail for node, _, _, detail in steps if node in keys),
            " | ".join(detail for node, _, _, detail in steps if node not in keys))


@pytest.mark.parametrize("order_by, index", [
    ("-training_date", "ix_model_metadata_date_search"),
    ("-validation_score", "ix_model_metadata_validation_search"),
    ("train_score", "ix_model_metadata_train_search"),
    ("status", "ix_model_metadata_status_id"),
    ("model_class", "ix_model_metadata_class_id"),
])
def test_a_page_finds_its_keys_in_index_order_and_reads_only_its_rows(filled, order_by, index):
    for filters in ({}, {"search": "rf"}, {"search": "svc"}, {"search": "ridge"}, {"latest_only": True}):
        keys, rows = _plan(filled, order_by=order_by, **filters)
        assert keys.startswith("MATERIALIZE page"), keys
        assert f"SCAN model_metadata USING COVERING INDEX {index}" in keys, keys
        assert "USE TEMP B-TREE FOR ORDER BY" not in keys, keys  # the tie-breakers may sort within ties only
        assert "GROUP BY" not in keys, keys  # latest_only looks each row found up in `model_ids`
        assert "SEARCH model_metadata USING INDEX sqlite_autoindex_model_metadata_1 (model_id=? AND version=?)" \
            in rows, rows


@pytest.mark.parametrize("order_by, index", [
    ("-validation_score", "ix_model_metadata_status_validation"),
    ("validation_score", "ix_model_metadata_status_validation"),
    ("-train_score", "ix_model_metadata_status_train"),
    ("train_score", "ix_model_metadata_status_train"),
])
def test_a_page_of_one_status_sorted_by_a_score_reads_that_status_in_score_order(filled, order_by, index):
    for filters in ({}, {"search": "rf"}, {"latest_only": True}):
        keys, rows = _plan(filled, status="saved", order_by=order_by, **filters)
        assert f"SEARCH model_metadata USING COVERING INDEX {index} (status=?)" in keys, keys
        assert "USE TEMP B-TREE FOR ORDER BY" not in keys, keys  # not every row of the status sorted
        assert "(model_id=? AND version=?)" in rows, rows
    assert refs(filled.list(status="saved", order_by=order_by, limit=2)) == \
        refs(filled.list(status="saved", order_by=order_by))[:2]


def _indexes(db):
    with closing(sqlite3.connect(db)) as con:
        return dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                                "tbl_name = 'model_metadata' AND sql IS NOT NULL").fetchall())


def test_a_version_6_registry_gets_the_indexes_of_version_7(tmp_path):
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    for db in (fresh, old):
        Registry(f"sqlite:///{db}").close()
    with closing(sqlite3.connect(old)) as con, con:  # back to what schema version 6 wrote
        downgrade(con, 6)
        con.execute("INSERT INTO model_metadata (model_id, version, model_class, training_date, status) "
                    "VALUES ('rf', 1, 'SVC', '2026-01-01T00:00:00+00:00', 'saved')")
    assert INDEXES.isdisjoint(_indexes(old))
    with Registry(f"sqlite:///{old}") as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert refs(upgraded.list(order_by="status")) == [("rf", 1)]
    assert _indexes(old) == _indexes(fresh)  # the step creates exactly the indexes of version 7
    assert INDEXES <= set(_indexes(old)) and "ix_model_metadata_training_date" not in _indexes(old)


def test_a_version_8_registry_gets_the_status_score_indexes_of_version_9(tmp_path):
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    for db in (fresh, old):
        Registry(f"sqlite:///{db}").close()
    names = {index.name for index in STATUS_SORT_INDEXES}
    with closing(sqlite3.connect(old)) as con, con:
        downgrade(con, 8)
        con.execute("INSERT INTO model_metadata (model_id, version, model_class, training_date, status, "
                    "validation_score) VALUES ('rf', 1, 'SVC', '2026-01-01T00:00:00+00:00', 'saved', 0.5)")
        con.execute("ANALYZE")  # statistics written before the step are refreshed by it
    assert names.isdisjoint(_indexes(old))
    with Registry(f"sqlite:///{old}") as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert refs(upgraded.list(status="saved", order_by="-validation_score", limit=5)) == [("rf", 1)]
    assert _indexes(old) == _indexes(fresh)
    with closing(sqlite3.connect(old)) as con:
        analysed = {name for (name,) in con.execute("SELECT idx FROM sqlite_stat1")}
    assert names <= analysed


def test_an_upgrade_of_a_registry_never_analysed_writes_no_statistics(tmp_path):
    db = tmp_path / "old.db"
    Registry(f"sqlite:///{db}").close()
    with closing(sqlite3.connect(db)) as con, con:
        downgrade(con, 6)
    with Registry(f"sqlite:///{db}") as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall() == []


STATUS_DATE = next(i for i in model_metadata.indexes if i.name == "ix_model_metadata_status_date_search")


def test_a_version_9_registry_gets_the_status_date_index_of_version_10(tmp_path):
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    for db in (fresh, old):
        Registry(f"sqlite:///{db}").close()
    with closing(sqlite3.connect(old)) as con, con:
        downgrade(con, 9)
        con.execute("INSERT INTO model_metadata (model_id, version, model_class, training_date, status) "
                    "VALUES ('rf', 1, 'SVC', '2026-01-01T00:00:00+00:00', 'saved')")
        con.execute("ANALYZE")
    assert "ix_model_metadata_status_date" in _indexes(old) and STATUS_DATE.name not in _indexes(old)
    with Registry(f"sqlite:///{old}") as upgraded:
        assert refs(upgraded.list(status="saved", search="rf", latest_only=True, limit=5)) == [("rf", 1)]
    assert _indexes(old) == _indexes(fresh)
    with closing(sqlite3.connect(old)) as con:
        analysed = {name for (name,) in con.execute("SELECT idx FROM sqlite_stat1")}
    assert STATUS_DATE.name in analysed and "ix_model_metadata_status_date" not in analysed


def test_a_page_of_one_status_newest_first_tests_search_and_latest_only_in_its_index(filled):
    for filters in ({}, {"search": "rf"}, {"latest_only": True}):
        keys, _ = _plan(filled, status="saved", **filters)
        assert f"SEARCH model_metadata USING COVERING INDEX {STATUS_DATE.name} (status=?)" in keys, keys
        assert "USE TEMP B-TREE FOR ORDER BY" not in keys, keys


@pytest.mark.parametrize(("version", "indexes"), [(6, SORT_INDEXES), (8, STATUS_SORT_INDEXES), (9, [STATUS_DATE])])
def test_an_upgrade_keeps_a_new_index_that_is_there_already(tmp_path, version, indexes):
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    for db in (fresh, old):
        Registry(f"sqlite:///{db}").close()
    with closing(sqlite3.connect(old)) as con, con:
        downgrade(con, version)
        con.execute(_indexes(fresh)[indexes[-1].name])  # created by hand before the upgrade
    with Registry(f"sqlite:///{old}") as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
    assert _indexes(old) == _indexes(fresh)


def _steps(reg, read):
    """How many SQLite virtual-machine steps ``read()`` takes (its own reads and a search's)."""
    steps = [0]

    def count():
        steps[0] += 1
        return 0

    with reg.atomic(write=False) as conn:
        raw = conn.connection.driver_connection
        raw.set_progress_handler(count, 1)
        try:
            read()
        finally:
            raw.set_progress_handler(None, 1)
    return steps[0]


def _instructions(reg, **filters):
    """How many steps a page takes."""
    return _steps(reg, lambda: reg.list(limit=100, **filters))


def _fill(reg, versions_per_id):
    with reg.atomic() as conn:
        conn.execute(model_metadata.insert(), [
            {"model_id": f"m{i}", "version": v, "model_class": "RandomForestClassifier", "status": "saved",
             "training_date": f"2024-01-01T00:{v:05d}"} for i in range(10) for v in range(1, versions_per_id + 1)])


def test_a_search_matching_nothing_reads_no_version(tmp_path):
    """The work of a search that matches no id and no class is the same for 20 versions as for 3,000."""
    found = []
    for per_id in (2, 300):
        with Registry(f"sqlite:///{tmp_path / f'{per_id}.db'}") as reg:
            _fill(reg, per_id)
            found.append((_instructions(reg, search="zzz"), _instructions(reg, search="m3"),
                          _instructions(reg)))
    (nothing_small, one_id_small, all_small), (nothing_large, one_id_large, all_large) = found
    assert nothing_large == nothing_small
    assert one_id_large > one_id_small and all_large > all_small  # the counter sees the reads it should


def test_a_search_matching_few_versions_looks_them_up_by_id(filled):
    keys, _ = _plan(filled, walk=False, search="svc")
    assert "SEARCH model_metadata USING INDEX sqlite_autoindex_model_metadata_1 (model_id=?)" in keys, keys
    assert "SEARCH model_metadata USING INDEX ix_model_metadata_class_id (model_class=?)" in keys, keys


WHERES = ["validation_score >= 0.6 and status == 'saved'", "status != 'archived'", "model_id == 'rf'",
          "validation_score < 0", "model_class in ['SVC', 'Ridge'] or version >= 2"]


@pytest.mark.parametrize("steps", [1, 10**9])
def test_a_where_page_read_in_its_order_after_a_long_plan_is_the_same_page(filled, monkeypatch, steps):
    """With a budget of one step every page with a ``where`` is read again in its sort order; the rows
    are those of the whole list, sliced."""
    from jupyter_modelservice.registry import reads

    monkeypatch.setattr(reads, "_PLANNED_STEPS", steps)
    statements = []
    sa.event.listen(filled.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: statements.append(statement))
    for where in WHERES:
        for order_by in ("-training_date", "validation_score", "model_class", "-version"):
            every = refs(filled.list(where=where, order_by=order_by))
            for offset in (0, 1, 3):
                assert refs(filled.list(where=where, order_by=order_by, limit=2, offset=offset)) == \
                    every[offset:offset + 2], (where, order_by, offset)
    read_in_order = [s for s in statements if "+(" in s]
    assert bool(read_in_order) == (steps == 1)


def test_a_failing_where_page_is_an_error_not_a_second_plan(filled):
    from jupyter_modelservice.registry import reads

    with filled.atomic(write=False) as conn, pytest.raises(sa.exc.OperationalError, match="no such table"):
        reads._within(conn, sa.select(sa.table("no_such_table", sa.column("x"))), 10**6)
    with filled.atomic(write=False) as conn:
        assert reads._within(conn, sa.select(model_metadata.c.model_id), 1) is None  # stopped: no rows
        assert len(reads._within(conn, sa.select(model_metadata.c.model_id), 10**6)) == 7


def _count_steps(reg, **filters):
    return _steps(reg, lambda: reg.count(**filters))


def test_a_count_with_a_search_looks_its_versions_up_and_stops_at_its_limit(tmp_path, monkeypatch):
    """Even when a page would read its matches in order, a count looks them up: counting 5 versions of the
    id that sorts last takes no more steps than counting 5 of the first (read in order, 3,000 rows first)."""
    monkeypatch.setattr("jupyter_modelservice.registry.reads.INDEXED_SEARCH", 0)
    with Registry(f"sqlite:///{tmp_path / 'r.db'}") as reg:
        with reg.atomic() as conn:
            conn.execute(model_metadata.insert(), [
                {"model_id": model_id, "version": v, "model_class": "RandomForestClassifier", "status": "saved",
                 "training_date": f"2024-01-01T00:{v:05d}"}
                for model_id in [f"a{i}" for i in range(10)] + ["zz"] for v in range(1, 301)])
        first, last = _count_steps(reg, search="a0", limit=5), _count_steps(reg, search="zz", limit=5)
        assert reg.count(search="zz", limit=5) == 5 and reg.count(search="zz") == 300
    assert last < 2 * first, (first, last)


def test_a_where_page_has_a_step_budget_and_a_whole_list_does_not(filled, monkeypatch):
    from jupyter_modelservice.registry import reads

    monkeypatch.setattr(reads, "_PLANNED_STEPS", 1)
    statements = []
    sa.event.listen(filled.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: statements.append(statement))
    filled.list(where="status != 'archived'")
    assert statements and not any("+(" in s for s in statements)
    filled.list(where="status != 'archived'", limit=3)
    assert "+(" in statements[-1]


def test_steps_are_counted_in_thousands_up_to_the_budget(filled):
    from jupyter_modelservice.registry import reads

    with filled.atomic() as conn:
        conn.execute(model_metadata.insert(), [
            {"model_id": "bulk", "version": v, "model_class": "X", "status": "saved", "training_date": "t"}
            for v in range(1, 2001)])
    query = sa.select(model_metadata.c.model_id, model_metadata.c.model_class).order_by(model_metadata.c.model_class)
    with filled.atomic(write=False) as conn:
        assert reads._within(conn, query, 5_000) is None  # thousands of rows sorted: past 5,000 steps
        assert len(reads._within(conn, query, 10**7)) == 2007

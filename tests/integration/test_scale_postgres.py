"""The large-registry paths on PostgreSQL: capped counts, latest_only, search, rows streamed through a
server-side cursor, the browser's capped totals, ``list --json`` and the upgrades to schemas 7 and 9."""

from __future__ import annotations

import contextlib
import io
import json
import re
from contextlib import closing

import pytest
import sqlalchemy as sa

from jupyter_modelservice import ModelService
from jupyter_modelservice.cli import main
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.engine import finite
from jupyter_modelservice.registry.schema import SCHEMA_VERSION, SORT_INDEXES, STATUS_SORT_INDEXES, model_metadata
from tests.old_schema import downgrade

pytestmark = pytest.mark.postgres


@pytest.fixture
def reg(pg_url):
    with Registry(pg_url) as registry:
        for i, (model_id, cls) in enumerate([("rf", "RandomForestClassifier"), ("svc", "SVC"),
                                             ("rf", "RandomForestClassifier"), ("Forest_2", "LinearSVC"),
                                             ("rf", "RandomForestClassifier"), ("n%_x", "Ridge")]):
            registry.add_version({"model_id": model_id, "model_class": cls, "validation_score": i / 10,
                                  "status": "archived" if i == 4 else "saved",
                                  "training_date": f"2026-01-0{i + 1}T00:00:00+00:00"})
        yield registry


def refs(rows):
    return [(r["model_id"], r["version"]) for r in rows]


def test_counts_latest_only_and_search(reg):
    assert [reg.count(limit=n) for n in (1, 4, 6, 9)] == [1, 4, 6, 6] and reg.count() == 6
    assert refs(reg.list(latest_only=True, order_by="model_id")) == [("Forest_2", 1), ("n%_x", 1), ("rf", 3),
                                                                    ("svc", 1)]
    assert refs(reg.list(latest_only=True, status="saved", order_by="model_id")) == [("Forest_2", 1), ("n%_x", 1),
                                                                                    ("svc", 1)]
    assert refs(reg.list(search="FOREST", order_by="-validation_score", limit=3)) == [("rf", 3), ("Forest_2", 1),
                                                                                     ("rf", 2)]
    assert refs(reg.list(search="%_")) == [("n%_x", 1)]
    assert refs(reg.list(order_by="status", limit=2, offset=1)) == [("Forest_2", 1), ("n%_x", 1)]


def test_iter_rows_streams_the_rows_of_list(reg):
    for filters in ({}, {"search": "rf", "order_by": "validation_score"}, {"latest_only": True, "limit": 2}):
        assert list(reg.iter_rows(batch=2, **filters)) == reg.list(**filters)
    with closing(reg.iter_rows(batch=1)) as rows:
        first = next(rows)
        reg.add_version({"model_id": "late", "model_class": "SVC"})  # a write while the cursor is open
        rest = list(rows)
    assert first["model_id"] == "n%_x" and len(rest) == 5 and reg.count() == 7
    with reg.atomic(write=False):  # inside a read (autocommit) the rows are fetched at once
        assert len(list(reg.iter_rows(batch=2))) == 7
    with reg.atomic():
        reg.add_version({"model_id": "new", "model_class": "SVC"})
        assert ("new", 1) in refs(reg.iter_rows(batch=2))


def test_iter_rows_fetches_a_batch_at_a_time_from_a_server_side_cursor(reg):
    def statement_after(rows, count):
        """The last statement of the reader (whose transaction is open) once it gave ``count`` rows."""
        for _ in range(count):
            next(rows)
        with reg.atomic(write=False) as conn:
            return [re.sub(r'"\w+"', "cursor", query) for query in conn.exec_driver_sql(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction' AND pid <> pg_backend_pid()").scalars()]

    # the first batch comes in two fetches: look at the third
    with closing(reg.iter_rows(batch=2)) as rows:
        assert statement_after(rows, 5) == ["FETCH FORWARD 2 FROM cursor"]
    with reg.atomic() as conn:
        conn.execute(model_metadata.insert(), [
            {"model_id": f"m{i}", "version": 1, "model_class": "SVC", "status": "saved",
             "training_date": "2025-01-01T00:00:00+00:00"} for i in range(2000)])
    with closing(reg.iter_rows()) as rows:  # 1000 rows a batch by default
        assert statement_after(rows, 2001) == ["FETCH FORWARD 1000 FROM cursor"]


def test_the_browser_caps_its_count(pg_url, tmp_path, monkeypatch):
    from jupyter_modelservice.notebook import browser as browser_module
    from jupyter_modelservice.widgets import RegistryBrowser

    monkeypatch.setattr(browser_module, "COUNT_CAP", 3)
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=tmp_path / "models") as service:
        for i in range(7):
            service.registry.add_version({"model_id": f"m{i}", "model_class": "SVC",
                                          "training_date": f"2026-01-01T00:00:0{i}+00:00"})
        browser = RegistryBrowser(service, namespace={}, page_size=2)
        assert browser.page_label.value == "page 1 of 2+ (3+ versions)"
        for _ in range(3):
            browser.next_button.click()
        assert browser.page_label.value == "page 4 of 4 (7 versions)" and browser.next_button.disabled


def test_list_json_is_the_same_document_streamed(pg_url, tmp_path):
    folder = tmp_path / "models"
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=folder) as service:
        for i in range(5):
            service.registry.add_version({"model_id": "rf", "model_class": "SVC", "tags": {"i": i},
                                          "validation_score": float("nan") if i == 2 else i / 10})
        rows = service.list_models()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--db-url", pg_url, "--dir", str(folder), "--json", "list"]) == 0
    assert out.getvalue() == json.dumps(finite(rows), indent=2, sort_keys=True, default=str) + "\n"
    assert len(json.loads(out.getvalue())) == 5


def test_a_version_6_registry_gets_the_indexes_of_versions_7_and_9(pg_url):
    names = {index.name for index in (*SORT_INDEXES, *STATUS_SORT_INDEXES)}
    with Registry(pg_url) as reg:
        reg.add_version({"model_id": "rf", "model_class": "SVC"})
        with reg.atomic() as conn:  # back to what schema version 6 wrote
            downgrade(conn, 6)
    with Registry(pg_url) as reg:
        assert reg.schema_version() == SCHEMA_VERSION
        with reg.atomic(write=False) as conn:
            found = {i["name"] for i in sa.inspect(conn).get_indexes("model_metadata")}
        assert names <= found and "ix_model_metadata_training_date" not in found
        assert refs(reg.list(order_by="status", limit=5)) == [("rf", 1)]
        assert refs(reg.list(status="trained", order_by="-train_score", limit=5)) == [("rf", 1)]

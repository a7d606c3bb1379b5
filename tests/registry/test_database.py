import multiprocessing as mp
import sqlite3

import pytest

from jupyter_modelservice.exceptions import InvalidInputError, ModelNotFoundError, SchemaVersionError
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.schema import SCHEMA_VERSION

from .helpers import row


def test_versions_are_allocated_per_id(reg):
    assert [reg.add_version(row()) for _ in range(3)] == [1, 2, 3]
    assert reg.add_version(row("other")) == 1
    assert reg.latest_version("rf") == 3
    assert reg.latest_version("nothing") is None
    assert reg.get("rf")["version"] == 3
    assert reg.get("rf", 2)["version"] == 2


def test_a_new_sha256_without_its_blake3_drops_the_old_blake3(reg):
    reg.add_version(row(file_sha256="a" * 64, file_blake3="b" * 64))
    reg.set_file("rf", 1, {"artifact_state": "ready"})  # other file columns keep it
    assert reg.get("rf", 1)["file_blake3"] == "b" * 64
    reg.update("rf", 1, {"file_sha256": "c" * 64})  # a digest describing another file: loads check the sha256
    assert (reg.get("rf", 1)["file_sha256"], reg.get("rf", 1)["file_blake3"]) == ("c" * 64, None)
    reg.set_file("rf", 1, {"file_sha256": "d" * 64, "file_blake3": "e" * 64})
    assert (reg.get("rf", 1)["file_sha256"], reg.get("rf", 1)["file_blake3"]) == ("d" * 64, "e" * 64)

def test_json_columns_round_trip_as_python_values(reg):
    reg.add_version(row(model_params={"n_estimators": 10, "max_depth": None}, tags={"team": "a"}))
    got = reg.get("rf")
    assert got["model_params"] == {"n_estimators": 10, "max_depth": None}
    assert got["tags"] == {"team": "a"}
    assert got["metrics"] is None


def test_missing_model_and_version_say_what_exists(reg):
    with pytest.raises(ModelNotFoundError, match="No model 'nope'"):
        reg.get("nope")
    reg.add_version(row())
    with pytest.raises(KeyError, match="latest is 1"):
        reg.get("rf", 7)


def test_status_changes_are_events_and_production_is_unique(reg):
    for _ in range(2):
        reg.add_version(row(file_path="x"))
    reg.update("rf", 1, {"status": "production"})
    reg.update("rf", 2, {"status": "production"})
    assert reg.get("rf", 1)["status"] == "saved"
    assert reg.get("rf", 2)["status"] == "production"
    changes = [(e["version"], e["from_status"], e["to_status"]) for e in reg.events("rf") if e["event"] == "status"]
    assert changes == [(1, "trained", "production"), (1, "production", "saved"), (2, "trained", "production")]


def test_unknown_status_and_column_are_rejected(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError, match="status"):
        reg.update("rf", 1, {"status": "deployed"})
    with pytest.raises(InvalidInputError, match="column"):
        reg.update("rf", 1, {"evil; DROP TABLE model_metadata": 1})


def test_list_filters_orders_and_limits(reg):
    for i in range(5):
        reg.add_version(row("rf", train_score=i / 10))
    reg.add_version(row("svm_1", model_class="SVC"))
    reg.update("rf", 2, {"status": "archived"})
    assert [r["version"] for r in reg.list(model_id="rf", order_by="version")] == [1, 2, 3, 4, 5]
    assert [r["version"] for r in reg.list(model_id="rf", order_by="-train_score", limit=2)] == [5, 4]
    assert [(r["model_id"], r["version"]) for r in reg.list(status="archived")] == [("rf", 2)]
    assert [r["model_id"] for r in reg.list(search="svc")] == ["svm_1"]
    assert {(r["model_id"], r["version"]) for r in reg.list(latest_only=True)} == {("rf", 5), ("svm_1", 1)}
    assert reg.count(model_id="rf") == 5
    with pytest.raises(InvalidInputError, match="order by"):
        reg.list(order_by="model_id; DROP TABLE x")


def test_search_treats_like_wildcards_and_quotes_as_text(reg):
    reg.add_version(row("a_b"))
    reg.add_version(row("axb"))
    assert [r["model_id"] for r in reg.list(search="a_b")] == ["a_b"]
    assert reg.list(search="%") == []
    assert reg.list(search="' OR 1=1 --") == []
    assert reg.count() == 2


def test_delete_returns_rows_and_records_events(reg):
    reg.add_version(row())
    reg.add_version(row())
    deleted = reg.delete("rf", 1)
    assert [r["version"] for r in deleted] == [1]
    assert [r["version"] for r in reg.list()] == [2]
    assert reg.delete("rf") and reg.list() == []
    with pytest.raises(ModelNotFoundError):
        reg.delete("rf")
    assert [e["event"] for e in reg.events("rf")][-2:] == ["deleted", "deleted"]


def test_sqlite_pragmas(reg):
    with reg.atomic(write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "registry.db"
    Registry(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as con:
        con.execute("UPDATE schema_info SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 5),))
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError) as info:
        Registry(f"sqlite:///{path}")
    assert str(SCHEMA_VERSION + 5) in str(info.value) and str(SCHEMA_VERSION) in str(info.value)
    assert path.read_bytes() == before


def test_reopening_keeps_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with Registry(url) as first:
        first.add_version(row())
    with Registry(url) as second:
        assert second.latest_version("rf") == 1
        assert second.schema_version() == SCHEMA_VERSION


def _writer(url, n, queue):
    registry = Registry(url)
    errors = 0
    for _ in range(n):
        try:
            registry.add_version(row("shared"))
        except Exception:  # noqa: BLE001 - counted and asserted on
            errors += 1
    queue.put(errors)


def test_concurrent_writers_never_collide(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    Registry(url).close()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, 50, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    errors = sum(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert errors == 0
    with Registry(url) as registry:
        versions = [r["version"] for r in registry.list(model_id="shared", order_by="version")]
    assert versions == list(range(1, 201))


def test_ids_differing_only_in_case_are_refused_inside_the_write(reg):
    from jupyter_modelservice.exceptions import InvalidModelIdError

    reg.add_version(row("RF"))
    assert reg.case_conflict("rf") == "RF" and reg.case_conflict("RF") is None
    with pytest.raises(InvalidModelIdError, match="letter case"):
        reg.add_version(row("rf"))
    assert reg.add_version(row("RF")) == 2
    with reg.atomic(write=False) as conn:
        plan = " ".join(str(r) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT model_id FROM model_metadata WHERE lower(model_id) = 'rf'"))
    assert "ix_model_metadata_model_id_lower" in plan


def test_deleted_version_numbers_are_not_reused(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.delete("rf", 2)
    assert reg.add_version(row()) == 3
    reg.delete("rf")
    assert reg.add_version(row()) == 4
    assert {e["version"] for e in reg.events("rf") if e["event"] == "registered"} == {1, 2, 3, 4}

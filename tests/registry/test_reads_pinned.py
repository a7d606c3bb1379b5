"""The read side of `Registry` (rows, counts, history), its transactions and its engine, pinned one
behaviour per test against a real SQLite file (and the real PostgreSQL server where it differs)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import sqlite3
import struct
import threading

import pytest
import sqlalchemy as sa

from jupyter_modelservice.exceptions import InvalidInputError, ModelNotFoundError, RegistryError
from jupyter_modelservice.registry import Registry, engine
from jupyter_modelservice.registry.queries import SORTABLE
from jupyter_modelservice.registry.schema import SCHEMA_VERSION
from tests.integration.conftest import pg_database, pg_url  # noqa: F401 - fixtures used by name

from .helpers import refs, row

# -- get / latest / missing ------------------------------------------------------------------------

def test_get_without_a_version_is_the_highest_version(reg):
    reg.add_version(row(fit_seconds=1.0))
    reg.add_version(row(fit_seconds=2.0))
    reg.add_version(row("other", fit_seconds=3.0))
    assert reg.get("rf")["fit_seconds"] == 2.0


def test_get_of_an_id_without_rows_says_list_models_shows_the_ids(reg):
    with pytest.raises(ModelNotFoundError, match=r"No model 'rf' in the registry; list_models\(\) shows the ids that exist\.$"):
        reg.get("rf", 3)


def test_get_of_a_missing_version_names_the_latest(reg):
    reg.add_version(row())
    reg.add_version(row())
    with pytest.raises(ModelNotFoundError, match=r"Model 'rf' has no version 9 \(latest is 2\)"):
        reg.get("rf", 9)


def test_latest_version_counts_only_that_id(reg):
    reg.add_version(row("a"))
    reg.add_version(row("b"))
    reg.add_version(row("b"))
    assert (reg.latest_version("a"), reg.latest_version("b")) == (1, 2)


def test_schema_version_is_the_current_one(reg):
    assert reg.schema_version() == SCHEMA_VERSION


def test_case_conflict_finds_the_other_spelling_only(reg):
    reg.add_version(row("MyForest"))
    reg.add_version(row("tree"))
    assert reg.case_conflict("myforest") == "MyForest"
    assert reg.case_conflict("MyForest") is None
    assert reg.case_conflict("TREE") == "tree"
    assert reg.case_conflict("shrub") is None


# -- list ------------------------------------------------------------------------------------------

@pytest.fixture
def filled(reg):
    for model_id, cls, status in [("rf", "RandomForestClassifier", "saved"), ("rf", "RandomForestClassifier", "trained"),
                                  ("svc", "SVC", "saved"), ("Forest_2", "ExtraTrees", "production")]:
        reg.add_version({"model_id": model_id, "model_class": cls, "status": status})
    return reg


def test_list_by_default_is_newest_training_date_first(filled):
    assert refs(filled.list()) == [("Forest_2", 1), ("svc", 1), ("rf", 2), ("rf", 1)]


def test_list_filters_by_status(filled):
    assert refs(filled.list(status="saved", order_by="model_id")) == [("rf", 1), ("svc", 1)]


def test_list_refuses_an_unknown_status(filled):
    with pytest.raises(InvalidInputError, match="Unknown status 'deployed'"):
        filled.list(status="deployed")


def test_list_filters_by_model_id(filled):
    assert refs(filled.list(model_id="rf", order_by="version")) == [("rf", 1), ("rf", 2)]


def test_list_search_matches_the_class_name_ignoring_case(filled):
    assert refs(filled.list(search="extratrees")) == [("Forest_2", 1)]


def test_list_search_matches_the_id_ignoring_case(filled):
    assert refs(filled.list(search="FOREST", order_by="model_id")) == [("Forest_2", 1), ("rf", 2), ("rf", 1)]


def test_list_search_of_a_backslash_is_plain_text(filled):
    filled.add_version(row("a\\b"))
    assert refs(filled.list(search="\\")) == [("a\\b", 1)]


def test_list_empty_search_filters_nothing(filled):
    assert len(filled.list(search="")) == 4


def test_list_filters_combine(filled):
    assert refs(filled.list(model_id="rf", status="trained")) == [("rf", 2)]


def test_list_orders_ascending_and_descending(filled):
    assert [r["model_id"] for r in filled.list(order_by="model_class")] == ["Forest_2", "rf", "rf", "svc"]
    assert [r["model_id"] for r in filled.list(order_by="-model_class")] == ["svc", "rf", "rf", "Forest_2"]


def test_list_breaks_ties_by_id_then_newest_version(filled):
    assert refs(filled.list(order_by="status")) == [("Forest_2", 1), ("rf", 1), ("svc", 1), ("rf", 2)]
    assert refs(filled.list(order_by="-status")) == [("rf", 2), ("rf", 1), ("svc", 1), ("Forest_2", 1)]


def test_list_limit_and_offset_page_through_the_order(filled):
    assert refs(filled.list(order_by="model_id", limit=2)) == [("Forest_2", 1), ("rf", 2)]
    assert refs(filled.list(order_by="model_id", limit=2, offset=2)) == [("rf", 1), ("svc", 1)]
    assert refs(filled.list(order_by="model_id", offset=3)) == [("svc", 1)]


def test_list_latest_only_keeps_the_highest_version_of_each_id(filled):
    assert refs(filled.list(latest_only=True, order_by="model_id")) == [("Forest_2", 1), ("rf", 2), ("svc", 1)]


def test_list_latest_only_applies_after_the_filters_keep_nothing_of_an_id(filled):
    # rf's latest (2) is not saved: rf has no latest saved row to show
    assert refs(filled.list(latest_only=True, status="saved")) == [("svc", 1)]


def test_list_order_by_a_refused_column_names_the_allowed_ones(filled):
    with pytest.raises(InvalidInputError) as info:
        filled.list(order_by="-tags")
    assert str(info.value) == (f"Cannot order by '-tags'; use one of {sorted(SORTABLE)}, "
                               "with a leading '-' for descending.")
    assert sorted(SORTABLE)[0] == "feature_count"


def test_list_returns_every_column(filled):
    got = filled.list(model_id="svc")[0]
    assert got == filled.get("svc", 1)


def test_count_applies_every_filter(filled):
    assert filled.count() == 4
    assert filled.count(status="saved") == 2
    assert filled.count(model_id="rf") == 2
    assert filled.count(search="forest") == 3
    assert filled.count(where="status == 'production'") == 1
    assert filled.count(model_id="rf", status="saved", search="random") == 1


def test_count_refuses_an_unknown_status(filled):
    with pytest.raises(InvalidInputError, match="Unknown status"):
        filled.count(status="nope")


def test_list_where_combines_with_the_other_filters(filled):
    assert refs(filled.list(where="version == 1", model_id="rf")) == [("rf", 1)]


# -- events ----------------------------------------------------------------------------------------

@pytest.fixture
def story(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.add_version(row("other"))
    reg.set_status("rf", 1, "archived")
    reg.record_event("rf", 2, "note")
    return reg


def test_events_are_oldest_first_across_ids(story):
    got = [(e["model_id"], e["version"], e["event"]) for e in story.events()]
    assert got == [("rf", 1, "registered"), ("rf", 2, "registered"), ("other", 1, "registered"),
                   ("rf", 1, "status"), ("rf", 2, "note")]


def test_events_of_one_id(story):
    assert {e["model_id"] for e in story.events("other")} == {"other"} and len(story.events("other")) == 1


def test_events_of_one_version(story):
    assert [e["event"] for e in story.events("rf", 1)] == ["registered", "status"]


def test_events_of_some_kinds(story):
    assert [(e["version"], e["event"]) for e in story.events("rf", kinds=["note", "status"])] == [
        (1, "status"), (2, "note")]


def test_events_of_no_kinds_is_nothing(story):
    assert story.events(kinds=[]) == []


def test_events_kinds_is_read_once_from_an_iterator(story):
    assert [e["event"] for e in story.events("rf", 2, kinds=iter(["note"]))] == ["note"]


# -- transactions ----------------------------------------------------------------------------------

def test_changed_is_empty_outside_a_transaction(reg):
    reg.add_version(row())
    assert reg.changed() == []


def test_changed_keeps_repeats_in_order(reg):
    reg.add_version(row())
    reg.add_version(row())
    with reg.atomic():
        reg.set_values("rf", 2, {"fit_seconds": 1.0})
        reg.set_values("rf", 1, {"fit_seconds": 1.0})
        reg.set_values("rf", 2, {"fit_seconds": 2.0})
        assert reg.changed() == [("rf", 2), ("rf", 1), ("rf", 2)]


def test_changed_is_a_copy(reg):
    reg.add_version(row())
    with reg.atomic():
        reg.set_values("rf", 1, {"fit_seconds": 1.0})
        reg.changed().clear()
        assert reg.changed() == [("rf", 1)]


def test_a_failed_savepoint_drops_its_rows_from_changed(reg):
    reg.add_version(row())
    reg.add_version(row())
    with reg.atomic():
        reg.set_values("rf", 1, {"fit_seconds": 1.0})
        with pytest.raises(ZeroDivisionError), reg.atomic():
            reg.set_values("rf", 2, {"fit_seconds": 1.0})
            1 / 0  # noqa: B018
        assert reg.changed() == [("rf", 1)]


def test_a_savepoint_that_succeeds_keeps_its_rows_in_changed(reg):
    reg.add_version(row())
    with reg.atomic():
        with reg.atomic():
            reg.set_values("rf", 1, {"fit_seconds": 1.0})
        assert reg.changed() == [("rf", 1)]


def test_a_read_block_inside_a_write_block_sees_its_writes(reg):
    reg.add_version(row())
    with reg.atomic():
        reg.set_values("rf", 1, {"fit_seconds": 5.0})
        with reg.atomic(write=False):
            assert reg.get("rf", 1)["fit_seconds"] == 5.0
        assert reg.in_transaction()


def test_a_read_block_inside_a_read_block_is_the_same_transaction(reg):
    with reg.atomic(write=False) as outer, reg.atomic(write=False) as inner:
        assert inner is outer


def test_a_write_block_inside_a_read_block_is_refused_naming_the_fix(reg):
    with reg.atomic(write=False), pytest.raises(RegistryError, match=r"inside a read-only transaction"):
        with reg.atomic():
            pass


def test_no_transaction_is_open_after_a_failed_block(reg):
    with pytest.raises(ZeroDivisionError), reg.atomic():
        1 / 0  # noqa: B018
    assert not reg.in_transaction()


def test_allocate_version_outside_a_transaction_says_what_to_do(reg):
    with pytest.raises(RegistryError, match=r"allocate_version|lock\('rf'\) must run inside `with registry.atomic"):
        reg.allocate_version("rf")


def _try_write(path):
    """Whether a plain connection can take the database's write lock at once."""
    con = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()


def test_sqlite_a_write_block_holds_the_write_lock_from_its_start(reg, tmp_path):
    with reg.atomic():
        assert not _try_write(tmp_path / "registry.db")
    assert _try_write(tmp_path / "registry.db")


def test_sqlite_a_read_block_does_not_hold_the_write_lock(reg, tmp_path):
    reg.add_version(row())
    with reg.atomic(write=False):
        reg.get("rf", 1)
        assert _try_write(tmp_path / "registry.db")


READS = {
    "schema_version": lambda r: r.schema_version(),
    "next_version": lambda r: r.next_version("rf"),
    "case_conflict": lambda r: r.case_conflict("RF"),
    "refuse_case_conflict": lambda r: r.refuse_case_conflict("other"),
    "get": lambda r: r.get("rf", 1),
    "latest_version": lambda r: r.latest_version("rf"),
    "list": lambda r: r.list(),
    "count": lambda r: r.count(),
    "events": lambda r: r.events("rf"),
    "evaluations": lambda r: r.evaluations("rf"),
    "resamples": lambda r: r.resamples([1], ("accuracy", 10, 0, 1)),
    "model_bytes": lambda r: r.model_bytes("rf", 1, "p"),
    "has_model_bytes": lambda r: r.has_model_bytes("rf", 1, "p"),
    "model_bytes_index": lambda r: r.model_bytes_index(),
}


@pytest.mark.parametrize("read", list(READS.values()), ids=list(READS))
def test_every_read_runs_inside_a_read_only_block(reg, read):
    reg.add_version(row())
    with reg.atomic(write=False):
        read(reg)


def test_a_driver_error_inside_a_block_is_a_registry_error_naming_the_database(reg):
    with pytest.raises(RegistryError, match=r"Registry database sqlite:///.*registry\.db failed: no such table"):
        with reg.atomic() as conn:
            conn.exec_driver_sql("SELECT * FROM nowhere")


def test_the_transactions_of_two_threads_are_their_own(reg):
    reg.add_version(row())
    seen = []
    with reg.atomic():
        reg.set_values("rf", 1, {"fit_seconds": 1.0})
        thread = threading.Thread(target=lambda: seen.append(reg.changed()))
        thread.start()
        thread.join()
    assert seen == [[]]


# -- the engine ------------------------------------------------------------------------------------

def test_sqlite_connections_enforce_foreign_keys_and_sync_normally(reg):
    with reg.atomic(write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_a_bad_url_is_a_registry_error_without_the_password():
    with pytest.raises(RegistryError) as info:
        Registry("nosuchdialect://me:s3cret@host/db")
    message = str(info.value)
    assert "s3cret" not in message and "me:***@host" in message and "dialect+driver" in message


def test_a_bad_port_is_a_registry_error():
    with pytest.raises(RegistryError, match="Cannot use database URL"):
        engine.make_engine("postgresql+psycopg://me@host:notaport/db")


def test_an_unreachable_server_is_a_registry_error_without_the_password():
    with pytest.raises(RegistryError) as info:
        Registry("postgresql+psycopg://me:s3cret@127.0.0.1:1/db?connect_timeout=2")
    message = str(info.value)
    assert "s3cret" not in message and message.startswith("Registry database postgresql+psycopg://me:***@")


def _refuse_quoting_the_password(listener):
    """Answer PostgreSQL clients as a server that asks for the password in clear, then quotes it refusing."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:  # the listener was closed
            return
        with conn, conn.makefile("rb") as stream, contextlib.suppress(struct.error):  # a client that left
            length, code = struct.unpack("!ii", stream.read(8))
            while code in (80877103, 80877104):  # SSL or GSS encryption asked: not spoken here
                conn.sendall(b"N")
                length, code = struct.unpack("!ii", stream.read(8))
            stream.read(length - 8)  # the startup parameters
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            _kind, length = struct.unpack("!ci", stream.read(5))
            password = stream.read(length - 4).rstrip(b"\0")
            fields = b"SFATAL\0C28P01\0Mpassword '" + password + b"' is not the one\0\0"
            conn.sendall(b"E" + struct.pack("!i", 4 + len(fields)) + fields)


def test_a_server_quoting_the_decoded_password_does_not_show_it():
    # "+" stays "+" in a URL's password, while "%40" is "@": the server gets (and quotes) s3cret+key@x
    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=_refuse_quoting_the_password, args=(listener,), daemon=True).start()
        port = listener.getsockname()[1]
        with pytest.raises(RegistryError) as info:
            Registry(f"postgresql+psycopg://me:s3cret+key%40x@127.0.0.1:{port}/db?connect_timeout=5")
    message = str(info.value)
    assert "password '***' is not the one" in message
    assert "s3cret" not in message and "key@x" not in message


def test_a_server_engine_pings_its_pooled_connections():
    made = engine.make_engine("postgresql+psycopg://me@127.0.0.1/db")
    assert made.pool._pre_ping is True
    made.dispose()


def test_an_engine_keeps_the_callers_options():
    made = engine.make_engine("postgresql+psycopg://me@127.0.0.1/db", pool_pre_ping=False)
    assert made.pool._pre_ping is False
    made.dispose()


def test_a_url_object_is_kept_as_text_that_reads_back_the_same(tmp_path):
    url = sa.make_url(f"sqlite:///{tmp_path / 'a b.db'}")
    with Registry(url) as registry:
        assert sa.make_url(registry.url) == url


def test_utcnow_is_iso_8601_utc_with_microseconds():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", engine.utcnow())


def test_actor_is_the_login_name(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    assert engine.actor() == "alice"


def test_actor_without_a_login_name_is_the_uid(monkeypatch):
    def no_user():
        raise KeyError("getpwuid(): uid not found")

    monkeypatch.setattr("getpass.getuser", no_user)
    monkeypatch.setattr("os.getuid", lambda: 4242)
    assert engine.actor() == "uid:4242"


def test_advisory_key_is_the_signed_big_endian_blake2b_of_the_text():
    digest = hashlib.blake2b(b"rf", digest_size=8).digest()
    assert engine.advisory_key("rf") == struct.unpack(">q", digest)[0]


def test_advisory_keys_fit_a_signed_bigint_and_may_be_negative():
    keys = [engine.advisory_key(f"model{i}") for i in range(64)]
    assert all(-(2 ** 63) <= k < 2 ** 63 for k in keys) and min(keys) < 0 < max(keys)


def test_escape_like_escapes_the_escape_character_first():
    assert engine.escape_like("a\\%b_c") == "a\\\\\\%b\\_c"


def test_finite_replaces_non_finite_numbers_at_any_depth():
    nan, inf = float("nan"), float("inf")
    assert engine.finite({"a": nan, "b": (1, -inf), "c": [{"d": inf}], "e": "nan", "f": 2.5}) == {
        "a": None, "b": [1, None], "c": [{"d": None}], "e": "nan", "f": 2.5}


def test_json_text_of_finite_values_is_standard_json():
    assert engine._json_dumps_finite({"a": [1, 2.5, None, "x"]}) == '{"a": [1, 2.5, null, "x"]}'


def test_json_text_of_non_finite_values_has_null():
    assert engine._json_dumps_finite([float("nan"), float("-inf")]) == "[null, null]"


# -- PostgreSQL ------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_postgres_reads_run_each_statement_on_its_own(pg_url):  # noqa: F811
    own = "SELECT statement_timestamp() = transaction_timestamp()"  # true in a transaction of its own
    with Registry(pg_url) as registry:
        with registry.atomic(write=False) as conn:
            conn.exec_driver_sql("SELECT pg_sleep(0.01)")
            assert conn.exec_driver_sql(own).scalar() is True
        with registry.atomic() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(0.01)")
            assert conn.exec_driver_sql(own).scalar() is False


@pytest.mark.postgres
def test_postgres_list_search_and_order_by_text(pg_url):  # noqa: F811
    with Registry(pg_url) as registry:
        for model_id in ("b_x", "Bx", "a%"):
            registry.add_version(row(model_id))
        assert refs(registry.list(search="_")) == [("b_x", 1)]
        assert refs(registry.list(search="B", order_by="model_id")) == [("Bx", 1), ("b_x", 1)]

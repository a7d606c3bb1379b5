"""The writers of `Registry`, pinned one behaviour per test: what each stores, records and refuses.

Each test reads back values (rows, history, numbers) from a real SQLite file;
the tests of what PostgreSQL does differently (advisory locks, ``RETURNING``)
run against the real server.
"""

from __future__ import annotations

import math
import threading

import psycopg
import pytest

from jupyter_modelservice.exceptions import (
    InvalidInputError,
    InvalidModelIdError,
    ModelNotFoundError,
    RegistryError,
)
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.engine import advisory_key
from jupyter_modelservice.registry.queries import FILE_COLUMNS
from tests.integration.conftest import _libpq, pg_database, pg_url  # noqa: F401 - fixtures used by name
from tests.threads import errors_in_threads

from .helpers import row


@pytest.fixture
def pg(pg_url):  # noqa: F811 - the imported fixture
    registry = Registry(pg_url)
    yield registry
    registry.close()


def history(registry, model_id="rf"):
    return [(e["version"], e["event"], e["from_status"], e["to_status"]) for e in registry.events(model_id)]


# -- register / add_version ------------------------------------------------------------------------

def test_register_defaults_the_status_to_trained(reg):
    assert reg.register(row())["status"] == "trained"


@pytest.mark.parametrize("backend", ["reg", "pg"])
def test_register_returns_the_row_as_a_read_gives_it_whole_scores_as_floats(request, backend):
    registry = request.getfixturevalue(backend)
    stored = registry.register(row(train_score=1.0, validation_score=0.0, fit_seconds=2.0, model_params={"C": 1}))
    assert stored == registry.get("rf", stored["version"])
    assert [type(stored[k]) for k in ("train_score", "validation_score", "fit_seconds")] == [float] * 3


def test_register_keeps_a_given_status(reg):
    assert reg.register(row(status="saved"))["status"] == "saved"


def test_register_records_a_registered_event_ending_in_the_given_status(reg):
    reg.register(row(status="saved"))
    assert history(reg) == [(1, "registered", None, "saved")]


def test_register_fills_the_training_date_with_the_current_utc_time(reg):
    stored = reg.register(row())["training_date"]
    assert stored.endswith("+00:00") and len(stored) == len("2026-01-01T00:00:00.000000+00:00")


def test_register_keeps_a_given_training_date(reg):
    assert reg.register(row(training_date="2020-02-02T00:00:00"))["training_date"] == "2020-02-02T00:00:00"


def test_register_returns_the_row_as_a_later_read_gives_it(reg):
    stored = reg.register(row(train_score=1.0, tags={"a": 1}))
    assert stored == reg.get("rf", 1)


def test_register_returns_a_decimal_number_as_a_float(reg):
    assert type(reg.register(row(train_score=1.0))["train_score"]) is float


def test_register_refuses_an_unknown_status(reg):
    with pytest.raises(InvalidInputError, match="Unknown status 'deployed'"):
        reg.register(row(status="deployed"))
    assert reg.list() == []


def test_register_refuses_an_unknown_column(reg):
    with pytest.raises(InvalidInputError, match=r"Unknown registry column\(s\) \['owner'\]"):
        reg.register(row(owner="me"))


def test_add_version_returns_the_number_as_an_int(reg):
    number = reg.add_version(row())
    assert type(number) is int and number == 1


def test_register_marks_the_new_row_changed_in_the_transaction(reg):
    with reg.atomic():
        reg.register(row())
        reg.register(row("b"))
        assert reg.changed() == [("rf", 1), ("b", 1)]


def test_register_refuses_an_id_differing_only_in_case_with_the_other_id_named(reg):
    reg.add_version(row("Forest"))
    with pytest.raises(InvalidModelIdError) as info:
        reg.add_version(row("forest"))
    assert "'forest'" in str(info.value) and "already has 'Forest'" in str(info.value)


def test_next_version_follows_the_highest_row(reg):
    for _ in range(3):
        reg.add_version(row())
    reg.add_version(row("other"))
    assert reg.next_version("rf") == 4 and reg.next_version("other") == 2 and reg.next_version("new") == 1


def test_next_version_follows_a_row_imported_without_history(reg):
    reg.import_version(row(version=3, training_date="x", status="saved"))
    assert reg.next_version("rf") == 4
    assert reg.add_version(row()) == 4


def test_next_version_skips_the_numbers_of_deleted_versions(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.delete("rf", 2)
    assert reg.next_version("rf") == 3


# -- allocate_version ------------------------------------------------------------------------------

def test_allocate_version_with_prefer_refuses_an_id_differing_only_in_case(reg):
    reg.add_version(row("RF"))
    with reg.atomic(), pytest.raises(InvalidModelIdError, match="letter case"):
        reg.allocate_version("rf", prefer=5)


@pytest.mark.parametrize("backend", ["reg", "pg"])
def test_allocate_version_refuses_an_id_differing_only_in_case_naming_both(request, backend):
    registry = request.getfixturevalue(backend)
    registry.add_version(row("Forest"))
    with registry.atomic(), pytest.raises(InvalidModelIdError) as info:
        registry.allocate_version("forest")
    assert str(info.value) == (
        "Invalid model_id 'forest': the registry already has 'Forest', which differs only in letter case; both "
        "would share one folder on Windows and macOS. Use 'Forest' to add a version, or another name.")


def test_allocate_version_prefers_a_number_whose_row_exists_no_more_only_if_never_used(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.add_version(row())
    reg.delete("rf", 3)
    with reg.atomic():
        assert reg.allocate_version("rf", prefer=2) == 4  # a row has it
        assert reg.allocate_version("rf", prefer=3) == 4  # its history has it
        assert reg.allocate_version("rf", prefer=9) == 9


def test_allocate_version_prefers_a_number_the_history_alone_knows_is_used(reg):
    # a history imported without its row: the number was used elsewhere, it is not given out again
    reg.import_events("rf", [{"model_id": "rf", "version": 4, "event": "registered", "from_status": None,
                              "to_status": "trained", "actor": "a", "at": "2020-01-01", "details": None}])
    with reg.atomic():
        assert reg.allocate_version("rf", prefer=4) == 5
        assert reg.allocate_version("rf") == 5


# -- set_status ------------------------------------------------------------------------------------

def test_set_status_records_the_change_with_its_details(reg):
    reg.add_version(row())
    reg.set_status("rf", 1, "archived", {"why": "old"})
    last = reg.events("rf")[-1]
    assert (last["event"], last["from_status"], last["to_status"], last["details"]) == (
        "status", "trained", "archived", {"why": "old"})


def test_set_status_without_details_records_null_details(reg):
    reg.add_version(row())
    reg.set_status("rf", 1, "archived")
    assert reg.events("rf")[-1]["details"] is None


def test_set_status_to_the_current_status_records_nothing(reg):
    reg.add_version(row(status="saved"))
    with reg.atomic():
        reg.set_status("rf", 1, "saved")
        assert reg.changed() == []
    assert history(reg) == [(1, "registered", None, "saved")]


def test_set_status_refuses_an_unknown_status(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError, match="Unknown status 'live'; use one of trained, saved, production"):
        reg.set_status("rf", 1, "live")


def test_set_status_of_a_missing_version_is_model_not_found(reg):
    reg.add_version(row())
    with pytest.raises(ModelNotFoundError, match="has no version 4"):
        reg.set_status("rf", 4, "saved")


def test_promotion_demotes_a_production_version_without_a_file_to_trained(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.set_status("rf", 1, "production")
    reg.set_status("rf", 2, "production")
    assert [reg.get("rf", v)["status"] for v in (1, 2)] == ["trained", "production"]


def test_promotion_demotes_a_production_version_with_a_file_to_saved(reg):
    reg.add_version(row(file_path="rf/v1.joblib"))
    reg.add_version(row())
    reg.set_status("rf", 1, "production")
    reg.set_status("rf", 2, "production")
    assert reg.get("rf", 1)["status"] == "saved"


def test_a_demotion_is_recorded_with_the_promoted_version_as_reason(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.set_status("rf", 1, "production")
    reg.set_status("rf", 2, "production")
    demotion = [e for e in reg.events("rf") if e["version"] == 1][-1]
    assert (demotion["from_status"], demotion["to_status"], demotion["details"]) == (
        "production", "trained", {"reason": "version 2 promoted"})


def test_promotion_leaves_the_production_versions_of_other_ids(reg):
    reg.add_version(row("a"))
    reg.add_version(row("b"))
    reg.add_version(row("b"))
    reg.set_status("a", 1, "production")
    reg.set_status("b", 2, "production")
    assert reg.get("a", 1)["status"] == "production"
    assert history(reg, "b") == [(1, "registered", None, "trained"), (2, "registered", None, "trained"),
                                 (2, "status", "trained", "production")]


def test_a_status_other_than_production_demotes_nothing(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.set_status("rf", 1, "production")
    reg.set_status("rf", 2, "saved")
    assert reg.get("rf", 1)["status"] == "production"


# -- set_values / set_file / merge_tags / record_event / update -----------------------------------

def test_set_values_changes_only_the_given_columns(reg):
    reg.add_version(row(train_score=0.5, fit_seconds=2.0))
    reg.set_values("rf", 1, {"fit_seconds": 3.0})
    got = reg.get("rf", 1)
    assert (got["train_score"], got["fit_seconds"]) == (0.5, 3.0)


def test_set_values_changes_only_the_given_version(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.set_values("rf", 2, {"fit_seconds": 3.0})
    assert reg.get("rf", 1)["fit_seconds"] is None


def test_set_values_refuses_identity_and_status_naming_them(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError) as info:
        reg.set_values("rf", 1, {"version": 2, "model_id": "x", "fit_seconds": 1.0})
    assert "['model_id', 'version']" in str(info.value)
    assert reg.get("rf", 1)["fit_seconds"] is None


def test_set_values_with_nothing_to_change_still_checks_the_version_exists(reg):
    reg.add_version(row())
    with pytest.raises(ModelNotFoundError, match="has no version 2"):
        reg.set_values("rf", 2, {})


def test_set_values_with_nothing_to_change_on_an_existing_version_is_no_change(reg):
    reg.add_version(row())
    with reg.atomic():
        reg.set_values("rf", 1, {})
        assert reg.changed() == []


def test_set_values_of_a_missing_version_names_the_latest(reg):
    reg.add_version(row())
    with pytest.raises(ModelNotFoundError, match=r"Model 'rf' has no version 3 \(latest is 1\)"):
        reg.set_values("rf", 3, {"fit_seconds": 1.0})


def test_set_values_marks_the_row_changed(reg):
    reg.add_version(row())
    with reg.atomic():
        reg.set_values("rf", 1, {"fit_seconds": 1.0})
        assert reg.changed() == [("rf", 1)]


def test_set_file_refuses_a_column_that_is_not_a_file_column_and_names_it(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError, match=r"not \['train_score'\]"):
        reg.set_file("rf", 1, {"file_path": "x", "train_score": 1.0})
    assert reg.get("rf", 1)["file_path"] is None


def test_set_file_stores_every_file_column(reg):
    reg.add_version(row())
    values = {"file_path": "rf/v1.skops", "file_format": "skops", "file_sha256": "a" * 64, "file_bytes": 12,
              "artifact_state": "ready", "file_blake3": "b" * 64}
    reg.set_file("rf", 1, values)
    got = reg.get("rf", 1)
    assert {k: got[k] for k in values} == values


def test_a_new_sha256_without_blake3_through_set_values_clears_the_blake3(reg):
    reg.add_version(row(file_sha256="a" * 64, file_blake3="b" * 64))
    reg.set_values("rf", 1, {"file_sha256": "c" * 64})
    assert reg.get("rf", 1)["file_blake3"] is None


def test_merge_tags_adds_changes_and_removes_none_valued_tags(reg):
    reg.add_version(row(tags={"team": "a", "stage": "dev"}))
    reg.merge_tags("rf", 1, {"stage": None, "owner": "me"})
    assert reg.get("rf", 1)["tags"] == {"team": "a", "owner": "me"}


def test_merge_tags_starts_from_the_tags_of_that_version(reg):
    reg.add_version(row(tags={"stage": "old"}))
    reg.add_version(row(tags={"stage": "new", "extra": 1}))
    reg.merge_tags("rf", 1, {"team": "a"})
    assert reg.get("rf", 1)["tags"] == {"stage": "old", "team": "a"}


def test_merge_tags_on_a_version_without_tags(reg):
    reg.add_version(row())
    reg.merge_tags("rf", 1, {"team": "a", "gone": None})
    assert reg.get("rf", 1)["tags"] == {"team": "a"}


def test_merge_tags_stores_keys_as_text(reg):
    reg.add_version(row())
    reg.merge_tags("rf", 1, {3: "x"})
    reg.merge_tags("rf", 1, {3: None, 4: "y"})
    assert reg.get("rf", 1)["tags"] == {"4": "y"}


def test_merge_tags_of_a_missing_version_is_model_not_found(reg):
    with pytest.raises(ModelNotFoundError, match="No model 'rf'"):
        reg.merge_tags("rf", 1, {"a": 1})


def test_record_event_keeps_the_status_as_from_and_to(reg):
    reg.add_version(row(status="saved"))
    reg.record_event("rf", 1, "verified", {"by": "me"})
    last = reg.events("rf")[-1]
    assert (last["event"], last["from_status"], last["to_status"], last["details"]) == (
        "verified", "saved", "saved", {"by": "me"})


def test_set_values_and_set_file_refuse_other_columns_saying_where_they_are_changed(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError) as info:
        reg.set_values("rf", 1, {"status": "saved", "version": 2})
    assert str(info.value) == (
        "set_values cannot change ['status', 'version']: a version keeps its id and number, and a status change "
        "goes through set_status (it is recorded and may demote another version).")
    with pytest.raises(InvalidInputError) as info:
        reg.set_file("rf", 1, {"file_path": "x", "notes": "y"})
    assert str(info.value) == f"set_file changes only {', '.join(FILE_COLUMNS)}, not ['notes']."


def test_record_event_keeps_the_status_of_its_own_version(reg):
    reg.add_version(row(status="saved"))
    reg.add_version(row(status="trained"))
    reg.record_event("rf", 1, "verified")
    last = reg.events("rf", 1)[-1]
    assert (last["version"], last["from_status"], last["to_status"]) == (1, "saved", "saved")


def test_record_event_without_details_stores_null(reg):
    reg.add_version(row())
    reg.record_event("rf", 1, "note", {})
    assert reg.events("rf")[-1]["details"] is None


def test_record_event_of_a_missing_version_records_nothing(reg):
    with pytest.raises(ModelNotFoundError):
        reg.record_event("rf", 1, "note")
    assert reg.events("rf") == []


def test_events_record_who_and_when(reg, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    reg.add_version(row())
    event = reg.events("rf")[0]
    assert event["actor"] == "alice" and event["at"].endswith("+00:00")


def test_update_returns_the_row_as_it_now_is(reg):
    reg.add_version(row())
    got = reg.update("rf", 1, {"status": "saved", "fit_seconds": 4.0})
    assert (got["status"], got["fit_seconds"]) == ("saved", 4.0) and got == reg.get("rf", 1)


def test_update_returns_the_row_of_the_version_it_changed(reg):
    reg.add_version(row())
    reg.add_version(row())
    assert reg.update("rf", 1, {"fit_seconds": 4.0})["version"] == 1


def test_update_without_a_status_records_no_status_event(reg):
    reg.add_version(row())
    reg.update("rf", 1, {"fit_seconds": 4.0})
    assert history(reg) == [(1, "registered", None, "trained")]


def test_update_of_the_status_alone_records_it(reg):
    reg.add_version(row())
    assert reg.update("rf", 1, {"status": "archived"})["status"] == "archived"
    assert history(reg)[-1] == (1, "status", "trained", "archived")


def test_update_is_one_transaction(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError):
        reg.update("rf", 1, {"status": "archived", "version": 3})
    assert reg.get("rf", 1)["status"] == "trained"


def test_update_refuses_an_unknown_status_before_writing(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError, match="status"):
        reg.update("rf", 1, {"status": "gone", "fit_seconds": 1.0})
    assert reg.get("rf", 1)["fit_seconds"] is None


# -- lock_row --------------------------------------------------------------------------------------

def test_lock_row_without_expect_returns_the_row(reg):
    reg.add_version(row(fit_seconds=1.0))
    with reg.atomic():
        assert reg.lock_row("rf", 1)["fit_seconds"] == 1.0


def test_lock_row_with_an_empty_expect_returns_the_row(reg):
    reg.add_version(row())
    with reg.atomic():
        assert reg.lock_row("rf", 1, expect={})["version"] == 1


def test_lock_row_returns_none_when_any_expected_column_differs(reg):
    reg.add_version(row(status="saved", fit_seconds=1.0))
    with reg.atomic():
        assert reg.lock_row("rf", 1, expect={"status": "saved", "fit_seconds": 2.0}) is None
        assert reg.lock_row("rf", 1, expect={"status": "saved", "fit_seconds": 1.0}) is not None


# -- delete ----------------------------------------------------------------------------------------

def test_delete_of_one_version_leaves_the_others(reg):
    for _ in range(3):
        reg.add_version(row())
    reg.delete("rf", 2)
    assert [r["version"] for r in reg.list(order_by="version")] == [1, 3]


def test_delete_of_one_id_leaves_other_ids(reg):
    reg.add_version(row())
    reg.add_version(row("other"))
    reg.delete("rf")
    assert [r["model_id"] for r in reg.list()] == ["other"]


def test_delete_records_the_status_and_the_file_to_remove(reg):
    reg.add_version(row(status="saved", file_path="rf/v1.skops", file_sha256="a" * 64))
    reg.delete("rf", 1)
    last = reg.events("rf")[-1]
    assert (last["event"], last["from_status"], last["to_status"], last["details"]) == (
        "deleted", "saved", None, {"file_path": "rf/v1.skops", "file_sha256": "a" * 64})


def test_delete_returns_the_deleted_rows_as_they_were(reg):
    reg.add_version(row(fit_seconds=1.0))
    stored = reg.get("rf", 1)
    assert reg.delete("rf", 1) == [stored]


def test_delete_of_a_missing_version_names_the_latest_and_deletes_nothing(reg):
    reg.add_version(row())
    with pytest.raises(ModelNotFoundError, match=r"has no version 5 \(latest is 1\)"):
        reg.delete("rf", 5)
    assert reg.latest_version("rf") == 1


# -- import_version / import_events ----------------------------------------------------------------

EVENT = {"model_id": "rf", "version": 3, "event": "registered", "from_status": None, "to_status": "trained",
         "actor": "bob", "at": "2020-01-01T00:00:00.000000+00:00", "details": {"from": "elsewhere"}}


def test_import_version_keeps_the_number_and_the_recorded_history(reg):
    assert reg.import_version(row(version=3, training_date="2020-01-01", status="saved"), [EVENT]) is True
    assert reg.get("rf", 3)["status"] == "saved"
    event = reg.events("rf")[0]
    assert {k: event[k] for k in EVENT} == EVENT


def test_import_version_of_an_existing_version_writes_nothing(reg):
    reg.add_version(row())
    assert reg.import_version(row(version=1, training_date="x", status="saved"), [EVENT]) is False
    assert reg.get("rf", 1)["status"] == "trained" and len(reg.events("rf")) == 1


def test_import_version_marks_the_row_changed(reg):
    with reg.atomic():
        reg.import_version(row(version=3, training_date="x", status="saved"))
        assert reg.changed() == [("rf", 3)]


def test_import_version_without_history_records_none(reg):
    reg.import_version(row(version=3, training_date="x", status="saved"))
    assert reg.events("rf") == []


def test_import_events_adds_only_the_events_not_held_and_counts_them(reg):
    reg.import_version(row(version=3, training_date="x", status="trained"), [EVENT])
    later = {**EVENT, "event": "status", "from_status": "trained", "to_status": "saved", "at": "2020-01-02"}
    assert reg.import_events("rf", [EVENT, later]) == 1
    assert [e["event"] for e in reg.events("rf")] == ["registered", "status"]
    assert reg.import_events("rf", [EVENT, later]) == 0


@pytest.mark.parametrize("field, other", [("version", 4), ("event", "status"), ("from_status", "saved"),
                                          ("to_status", "saved"), ("actor", "carol"), ("at", "2021-01-01")])
def test_import_events_counts_an_event_differing_in_one_field_as_new(reg, field, other):
    reg.import_events("rf", [EVENT])
    assert reg.import_events("rf", [{**EVENT, field: other}]) == 1


def test_import_events_counts_an_event_differing_only_in_details_as_held(reg):
    reg.import_events("rf", [EVENT])
    assert reg.import_events("rf", [{**EVENT, "details": {"other": 1}}]) == 0


def test_import_events_refuses_events_of_another_id(reg):
    with pytest.raises(InvalidInputError, match=r"import_events\('rf'\) got events of other model ids"):
        reg.import_events("rf", [{**EVENT, "model_id": "other"}])
    assert reg.events() == []


def test_import_events_compares_with_the_events_of_that_id_only(reg):
    reg.import_events("other", [{**EVENT, "model_id": "other"}])
    assert reg.import_events("rf", [EVENT]) == 1


# -- letter case -----------------------------------------------------------------------------------

def test_refuse_case_conflict_names_the_registered_id(reg):
    reg.add_version(row("Forest"))
    with pytest.raises(InvalidModelIdError, match="Use 'Forest' to add a version"):
        reg.refuse_case_conflict("FOREST")


def test_refuse_case_conflict_accepts_the_registered_id_and_new_ids(reg):
    reg.add_version(row("Forest"))
    reg.refuse_case_conflict("Forest")
    reg.refuse_case_conflict("tree")


# -- JSON values -----------------------------------------------------------------------------------

def test_non_finite_numbers_in_json_are_stored_as_null(reg):
    reg.add_version(row(metrics={"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": 2.5}))
    assert reg.get("rf", 1)["metrics"] == {"a": None, "b": [1.0, None, {"c": None}], "d": 2.5}


# -- PostgreSQL ------------------------------------------------------------------------------------

def _lock_is_free(url, model_id):
    """Whether another session can take the advisory lock of ``model_id`` now."""
    with psycopg.connect(_libpq(url), autocommit=True) as other:
        return other.execute("SELECT pg_try_advisory_lock(%s)", (advisory_key(model_id.lower()),)).fetchone()[0]


@pytest.mark.postgres
def test_postgres_lock_holds_the_case_folded_id_until_the_transaction_ends(pg, pg_url):  # noqa: F811
    with pg.atomic():
        pg.lock("RF")
        assert not _lock_is_free(pg_url, "rf")
        assert _lock_is_free(pg_url, "other")
    assert _lock_is_free(pg_url, "rf")


@pytest.mark.postgres
def test_postgres_a_lock_undone_with_its_savepoint_is_taken_again(pg, pg_url):  # noqa: F811
    with pg.atomic():
        with pytest.raises(ZeroDivisionError), pg.atomic():
            pg.lock("rf")
            1 / 0  # noqa: B018 - rolls the savepoint back, and its lock with it
        assert _lock_is_free(pg_url, "rf")
        pg.lock("rf")
        assert not _lock_is_free(pg_url, "rf")


@pytest.mark.postgres
def test_postgres_register_returns_the_row_as_a_later_read_gives_it(pg):
    stored = pg.register(row(train_score=1.0, fit_seconds=2.0, tags={"a": [1, 2]}))
    assert stored == pg.get("rf", 1) and stored["version"] == 1


@pytest.mark.postgres
def test_postgres_writers_of_one_id_wait_for_each_other(pg, pg_url):  # noqa: F811
    pg.add_version(row())
    entered = threading.Event()
    order = []

    def second():
        with Registry(pg_url) as other, other.atomic():
            entered.set()
            other.merge_tags("rf", 1, {"b": 2})
            order.append("second")

    with pg.atomic():
        pg.merge_tags("rf", 1, {"a": 1})
        thread = threading.Thread(target=second)
        thread.start()
        entered.wait(10)
        thread.join(0.5)
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"] and pg.get("rf", 1)["tags"] == {"a": 1, "b": 2}


@pytest.mark.postgres
def test_postgres_non_finite_numbers_in_json_are_stored_as_null(pg):
    pg.add_version(row(metrics={"a": math.nan, "b": [math.inf]}))
    assert pg.get("rf", 1)["metrics"] == {"a": None, "b": [None]}


@pytest.mark.postgres
def test_postgres_lock_needs_a_write_transaction(pg):
    with pytest.raises(RegistryError, match="lock\\('rf'\\) must run inside"):
        pg.lock("rf")


@pytest.mark.postgres
def test_postgres_registries_opened_together_create_the_schema_once(pg_url):  # noqa: F811
    def open_it(gate):
        gate.wait()
        Registry(pg_url).close()

    errors = errors_in_threads(open_it, 4)
    assert errors == []
    with Registry(pg_url) as registry, registry.atomic(write=False) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM schema_info").scalar() == 1

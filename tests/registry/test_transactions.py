"""Transactions that compose: nested blocks are savepoints, writers join the open transaction."""

import threading

import pytest

from jupyter_modelservice.exceptions import InvalidInputError, ModelNotFoundError, RegistryError
from jupyter_modelservice.registry import Registry

from .helpers import row


class Boom(Exception):
    pass


def test_writers_composed_in_one_block_commit_together_or_not_at_all(reg):
    reg.add_version(row())
    with pytest.raises(Boom), reg.atomic():
        reg.set_file("rf", 1, {"file_path": "rf/v1.joblib", "artifact_state": "ready"})
        reg.set_status("rf", 1, "saved")
        reg.record_event("rf", 1, "note", {"why": "test"})
        raise Boom
    assert (reg.get("rf", 1)["status"], reg.get("rf", 1)["file_path"]) == ("trained", None)
    assert [e["event"] for e in reg.events("rf")] == ["registered"]


def test_a_failed_nested_block_undoes_only_its_own_writes(reg):
    reg.add_version(row())
    with reg.atomic():
        reg.set_values("rf", 1, {"fit_seconds": 1.5})
        with pytest.raises(Boom), reg.atomic():
            reg.set_status("rf", 1, "archived")
            raise Boom
        assert reg.get("rf", 1)["status"] == "trained"  # back to the savepoint, inside the transaction
        reg.merge_tags("rf", 1, {"team": "a"})
    got = reg.get("rf", 1)
    assert (got["fit_seconds"], got["status"], got["tags"]) == (1.5, "trained", {"team": "a"})
    assert [e["event"] for e in reg.events("rf")] == ["registered"]


def test_reads_inside_a_transaction_see_its_writes_and_others_do_not(reg, tmp_path):
    reg.add_version(row())
    with Registry(reg.url) as other, reg.atomic():
        reg.set_values("rf", 1, {"train_score": 0.5})
        assert reg.get("rf", 1)["train_score"] == 0.5
        assert reg.changed() == [("rf", 1)]
        seen = {}
        reader = threading.Thread(target=lambda: seen.update(row=other.get("rf", 1)))
        reader.start()
        reader.join()
        assert seen["row"]["train_score"] is None  # not committed yet
    assert reg.changed() == [] and reg.get("rf", 1)["train_score"] == 0.5


def test_the_open_transaction_belongs_to_its_thread(reg):
    reg.add_version(row())
    with reg.atomic():
        assert reg.in_transaction()
        inside = []
        probe = threading.Thread(target=lambda: inside.append(reg.in_transaction()))
        probe.start()
        probe.join()
    assert inside == [False] and not reg.in_transaction()


def test_a_write_inside_a_read_only_block_is_refused(reg):
    reg.add_version(row())
    with pytest.raises(RegistryError, match="read-only"), reg.atomic(write=False):
        reg.set_status("rf", 1, "archived")
    assert reg.get("rf", 1)["status"] == "trained"


@pytest.mark.parametrize("call", [lambda r: r.lock("rf"), lambda r: r.lock_row("rf", 1),
                                  lambda r: r.allocate_version("rf")])
def test_locks_and_reservations_need_an_open_write_transaction(reg, call):
    reg.add_version(row())
    with pytest.raises(RegistryError, match="registry.atomic"):
        call(reg)


def test_lock_row_is_a_compare_and_set(reg):
    reg.add_version(row(status="saved"))
    with reg.atomic():
        assert reg.lock_row("rf", 1, expect={"status": "trained"}) is None
        assert reg.lock_row("rf", 1, expect={"status": "saved"})["version"] == 1
        with pytest.raises(ModelNotFoundError):
            reg.lock_row("rf", 9)


def test_allocate_version_keeps_a_number_never_used_else_takes_the_next(reg):
    reg.add_version(row())
    reg.add_version(row())
    reg.delete("rf", 2)
    with reg.atomic():
        assert reg.allocate_version("rf", prefer=7) == 7
        assert reg.allocate_version("rf", prefer=1) == 3  # in use
        assert reg.allocate_version("rf", prefer=2) == 3  # deleted: never given out again
        assert reg.allocate_version("new") == 1


def test_promotion_demotes_the_previous_production_version_in_the_same_transaction(reg):
    for _ in range(2):
        reg.add_version(row(file_path="x"))
    reg.set_status("rf", 1, "production")
    with pytest.raises(Boom), reg.atomic():
        reg.set_status("rf", 2, "production")
        assert reg.get("rf", 1)["status"] == "saved"
        assert set(reg.changed()) == {("rf", 1), ("rf", 2)}
        raise Boom
    assert [reg.get("rf", v)["status"] for v in (1, 2)] == ["production", "trained"]


def test_the_small_writers_refuse_what_is_not_theirs(reg):
    reg.add_version(row())
    with pytest.raises(InvalidInputError, match="set_status"):
        reg.set_values("rf", 1, {"status": "saved"})
    with pytest.raises(InvalidInputError, match="set_file"):
        reg.set_file("rf", 1, {"metrics": {}})
    with pytest.raises(ModelNotFoundError):
        reg.set_values("rf", 5, {"train_score": 1.0})


def test_a_new_registry_waits_for_another_process_switching_it_to_wal(tmp_path):
    import sqlite3
    import threading
    import time

    # another process has just created the file and holds it while it writes (not in WAL yet):
    # SQLite refuses the switch to WAL at once, without its busy timeout; opening must wait instead
    path = tmp_path / "registry.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE placeholder (x)")
    threading.Timer(0.5, lambda: holder.execute("COMMIT")).start()
    started = time.monotonic()
    with Registry(f"sqlite:///{path}") as registry:
        assert registry.add_version({"model_id": "rf", "model_class": "X"}) == 1
    assert time.monotonic() - started >= 0.4  # it waited for the other writer
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.close()

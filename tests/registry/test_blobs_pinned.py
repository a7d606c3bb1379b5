"""Model bytes kept in the registry database (``model_blobs``), pinned one behaviour per test, on a
SQLite file and on the PostgreSQL server (whose read goes through psycopg in binary)."""

from __future__ import annotations

import re

import pytest

from jupyter_modelservice.exceptions import ModelNotFoundError, RegistryError
from jupyter_modelservice.registry import Registry
from tests.integration.conftest import pg_database, pg_url  # noqa: F401 - fixtures used by name


@pytest.fixture(params=["sqlite", "postgresql"])
def reg(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    registry = Registry(url)
    for model_id in ("rf", "rf", "svc"):
        registry.add_version({"model_id": model_id, "model_class": "X"})
    yield registry
    registry.close()


def test_stored_bytes_read_back_as_bytes(reg):
    data = bytes(range(256)) * 3
    reg.put_model_bytes("rf", 1, "rf/v1.skops", data)
    got = reg.model_bytes("rf", 1, "rf/v1.skops")
    assert type(got) is bytes and got == data


def test_bytes_are_found_under_their_path_only(reg):
    reg.put_model_bytes("rf", 1, "rf/v1.skops", b"abc")
    assert reg.model_bytes("rf", 1, "rf/v1.joblib") is None
    assert reg.has_model_bytes("rf", 1, "rf/v1.skops") and not reg.has_model_bytes("rf", 1, "rf/v1.joblib")


def test_bytes_are_found_for_their_version_only(reg):
    reg.put_model_bytes("rf", 1, "p", b"one")
    assert reg.model_bytes("rf", 2, "p") is None and reg.model_bytes("svc", 1, "p") is None
    assert not reg.has_model_bytes("rf", 2, "p") and not reg.has_model_bytes("svc", 1, "p")


def test_storing_again_replaces_the_bytes_and_the_path(reg):
    reg.put_model_bytes("rf", 1, "rf/v1.joblib", b"old")
    reg.put_model_bytes("rf", 1, "rf/v1.skops", b"newer")
    assert reg.model_bytes("rf", 1, "rf/v1.joblib") is None
    assert reg.model_bytes("rf", 1, "rf/v1.skops") == b"newer"


def test_storing_accepts_a_memoryview(reg):
    reg.put_model_bytes("rf", 1, "p", memoryview(b"abcdef")[1:4])
    assert reg.model_bytes("rf", 1, "p") == b"bcd"
    assert reg.model_bytes_index()[0]["nbytes"] == 3


def test_storing_for_a_missing_version_is_model_not_found(reg):
    with pytest.raises(ModelNotFoundError):
        reg.put_model_bytes("rf", 9, "p", b"x")
    assert reg.model_bytes_index() == []


def test_the_index_lists_every_stored_version_by_path_without_the_bytes(reg):
    reg.put_model_bytes("svc", 1, "svc/v1.skops", b"12345")
    reg.put_model_bytes("rf", 2, "rf/v2.skops", b"12")
    index = reg.model_bytes_index()
    assert [(r["model_id"], r["version"], r["path"], r["nbytes"]) for r in index] == [
        ("rf", 2, "rf/v2.skops", 2), ("svc", 1, "svc/v1.skops", 5)]
    assert all(set(r) == {"model_id", "version", "path", "nbytes", "stored_at"} for r in index)
    assert all(re.fullmatch(r"\d{4}-.*\+00:00", r["stored_at"]) for r in index)


def test_delete_returns_the_bytes_freed(reg):
    reg.put_model_bytes("rf", 1, "p", b"12345")
    reg.put_model_bytes("rf", 2, "p", b"12")
    assert reg.delete_model_bytes("rf", 1) == 5
    assert reg.model_bytes("rf", 1, "p") is None and reg.model_bytes("rf", 2, "p") == b"12"


def test_delete_of_nothing_frees_zero(reg):
    assert reg.delete_model_bytes("rf", 1) == 0


def test_delete_under_another_path_keeps_the_bytes(reg):
    reg.put_model_bytes("rf", 1, "rf/v1.skops", b"12345")
    assert reg.delete_model_bytes("rf", 1, "rf/v1.joblib") == 0
    assert reg.model_bytes("rf", 1, "rf/v1.skops") == b"12345"
    assert reg.delete_model_bytes("rf", 1, "rf/v1.skops") == 5
    assert reg.model_bytes_index() == []


def test_deleting_the_version_deletes_its_bytes(reg):
    reg.put_model_bytes("rf", 1, "p", b"abc")
    reg.delete("rf", 1)
    assert reg.model_bytes_index() == []


def test_bytes_and_file_columns_commit_together(reg):
    with pytest.raises(ZeroDivisionError), reg.atomic():
        reg.put_model_bytes("rf", 1, "p", b"abc")
        reg.set_file("rf", 1, {"artifact_state": "ready"})
        1 / 0  # noqa: B018
    assert reg.model_bytes("rf", 1, "p") is None and reg.get("rf", 1)["artifact_state"] is None


def test_reading_bytes_inside_the_writing_transaction_sees_them(reg):
    with reg.atomic():
        reg.put_model_bytes("rf", 1, "p", b"abc")
        assert reg.model_bytes("rf", 1, "p") == b"abc"


@pytest.mark.postgres
def test_postgres_a_driver_error_of_the_binary_read_is_a_registry_error(pg_url, monkeypatch):  # noqa: F811
    import psycopg

    with Registry(pg_url) as registry:
        registry.add_version({"model_id": "rf", "model_class": "X"})
        registry.put_model_bytes("rf", 1, "p", b"abc")

        execute = psycopg.Cursor.execute

        def broken(self, query, *args, **kwargs):
            if "FROM model_blobs" in str(query):
                raise psycopg.InterfaceError("the connection is lost")
            return execute(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", broken)
        with pytest.raises(RegistryError, match=r"failed while reading the bytes of rf:1: InterfaceError: the "):
            registry.model_bytes("rf", 1, "p")


def test_an_error_that_is_not_the_drivers_passes_through(tmp_path, monkeypatch):
    from jupyter_modelservice.registry import blobs

    with Registry(f"sqlite:///{tmp_path / 'r.db'}") as registry:
        def broken(*args):
            raise LookupError("mine")

        monkeypatch.setattr(blobs, "read", broken)
        with pytest.raises(LookupError, match="mine"):
            registry.model_bytes("rf", 1, "p")

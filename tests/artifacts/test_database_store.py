"""`DatabaseStore`: model bytes as rows of the registry database (``models_directory="db://"``)."""

from __future__ import annotations

import hashlib
import os

import blake3
import pytest
import sqlalchemy as sa

from jupyter_modelservice import ModelService, ModelTooLargeError
from jupyter_modelservice.artifacts import LocalStore, Store
from jupyter_modelservice.artifacts.database_store import (
    DEFAULT_MAX_BYTES,
    ENV_MAX_BYTES,
    MAX_BYTES_CEILING,
    DatabaseStore,
    max_bytes_setting,
)
from jupyter_modelservice.config import make_store, registry_url
from jupyter_modelservice.exceptions import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidInputError,
    ModelNotFoundError,
)
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.schema import model_blobs
from tests.artifacts.test_store import BAD_PATHS


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    for _ in range(2):
        reg.add_version({"model_id": "rf", "model_class": "RandomForestClassifier"})
    yield reg
    reg.close()


def _stored(registry):
    with registry.atomic(write=False) as conn:
        return {(r.model_id, r.version): (r.path, bytes(r.data)) for r in conn.execute(sa.select(model_blobs))}


def test_stage_hashes_in_memory_and_publish_stores_the_row(registry):
    store = DatabaseStore(registry)
    payload = os.urandom(3 << 20) + b"tail"

    def write(fh):
        fh.write(payload[:100])
        fh.write(memoryview(payload)[100:])

    staged = store.stage("rf/v1.joblib", write)
    assert staged.sha256 == hashlib.sha256(payload).hexdigest() and staged.nbytes == len(payload)
    assert staged.blake3 == blake3.blake3(payload).hexdigest()
    assert _stored(registry) == {}  # staging writes nothing to the database
    store.publish(staged)
    assert _stored(registry) == {("rf", 1): ("rf/v1.joblib", payload)}
    assert store.read_bytes("rf/v1.joblib") == payload
    assert store.exists("rf/v1.joblib") and not store.exists("rf/v1.skops") and not store.exists("rf/v2.joblib")
    assert store.location("rf/v1.joblib") == "db://rf/v1.joblib"
    assert list(store.iter_files()) == ["rf/v1.joblib"]
    [(path, size, when)] = store.iter_stats()
    assert (path, size) == ("rf/v1.joblib", len(payload)) and when is not None


def test_a_new_publish_replaces_the_bytes_and_the_old_path_reads_as_missing(registry):
    store = DatabaseStore(registry)
    store.publish(store.stage("rf/v1.joblib", lambda fh: fh.write(b"old")))
    store.publish(store.stage("rf/v1.skops", lambda fh: fh.write(b"new")))
    assert _stored(registry) == {("rf", 1): ("rf/v1.skops", b"new")}
    with pytest.raises(ArtifactError, match="db://rf/v1.joblib is missing"):
        store.read_bytes("rf/v1.joblib")
    store.delete("rf/v1.joblib")  # another path: the bytes of v1.skops stay
    assert store.read_bytes("rf/v1.skops") == b"new"
    store.delete("rf/v1.skops")
    assert _stored(registry) == {}


def test_bytes_are_published_in_the_current_transaction(registry):
    store = DatabaseStore(registry)
    staged = store.stage("rf/v2.joblib", lambda fh: fh.write(b"abc"))
    with pytest.raises(RuntimeError, match="later step failed"), registry.atomic():
        store.publish(staged)
        assert store.read_bytes("rf/v2.joblib") == b"abc"  # visible inside the transaction
        raise RuntimeError("a later step failed")
    assert _stored(registry) == {}


def test_bytes_never_exist_without_their_version(registry):
    store = DatabaseStore(registry)
    staged = store.stage("gone/v1.joblib", lambda fh: fh.write(b"abc"))
    with pytest.raises(ModelNotFoundError):
        store.publish(staged)
    store.publish(store.stage("rf/v1.joblib", lambda fh: fh.write(b"abc")))
    registry.delete("rf", 1)  # the row's delete frees its bytes, in its own transaction
    assert _stored(registry) == {}


def test_a_model_over_the_limit_stops_the_serializer_and_writes_nothing(registry):
    store = DatabaseStore(registry, max_bytes=1000)
    chunks = []

    def write(fh):
        for _ in range(100):
            fh.write(b"x" * 300)
            chunks.append(1)

    with pytest.raises(ModelTooLargeError) as info:
        store.stage("rf/v1.joblib", write)
    assert len(chunks) == 3  # stopped at the fourth chunk, not after all 100
    assert isinstance(info.value, ArtifactError) and (info.value.nbytes, info.value.limit) == (1200, 1000)
    message = str(info.value)
    assert "rf:1" in message and "nothing was written" in message
    assert "s3://" in message and "models_directory" in message and "max_bytes" in message
    assert _stored(registry) == {}
    store.stage("rf/v1.joblib", lambda fh: fh.write(b"x" * 1000))  # exactly the limit is fine


def test_the_store_implements_the_contract_with_its_two_differences(registry, tmp_path):
    store = DatabaseStore(registry)
    assert isinstance(store, Store)
    assert (store.transactional, store.sidecars) == (True, False)
    assert (LocalStore(tmp_path).transactional, LocalStore(tmp_path).sidecars) == (False, True)


@pytest.mark.parametrize("relpath", BAD_PATHS)
def test_every_operation_refuses_a_path_that_is_not_plain(registry, relpath):
    store = DatabaseStore(registry)
    operations = [lambda: store.stage(relpath, lambda fh: fh.write(b"x")), lambda: store.delete(relpath),
                  lambda: store.read_bytes(relpath), lambda: store.exists(relpath), lambda: store.location(relpath)]
    for operation in operations:
        with pytest.raises(ArtifactIntegrityError, match="not a plain relative path"):
            operation()


def test_only_model_file_paths_are_stored(registry):
    store = DatabaseStore(registry)
    with pytest.raises(ArtifactError, match="only model files"):
        store.stage("rf/v1.json", lambda fh: fh.write(b"{}"))
    with pytest.raises(ArtifactError, match="no sidecars"):
        store.write_text("rf/v1.json", "{}")
    with pytest.raises(ArtifactError, match="missing"):
        store.read_bytes("rf/v1.json")
    assert not store.exists("rf/v1.json")
    store.delete("rf/v1.json")  # nothing to remove, no error


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "64MB", MAX_BYTES_CEILING + 1])
def test_the_limit_must_be_a_number_of_bytes_the_databases_can_store(value):
    with pytest.raises(InvalidInputError, match="max_bytes"):
        max_bytes_setting(value)


def test_the_limit_defaults_to_64_mib_and_may_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV_MAX_BYTES, raising=False)
    assert max_bytes_setting() == DEFAULT_MAX_BYTES == 64 * 2**20
    monkeypatch.setenv(ENV_MAX_BYTES, "2_000")
    assert max_bytes_setting() == 2000 and max_bytes_setting(5000) == 5000
    monkeypatch.setenv(ENV_MAX_BYTES, "lots")
    with pytest.raises(InvalidInputError, match=ENV_MAX_BYTES):
        max_bytes_setting()


def test_db_store_spelling_and_options_are_checked(tmp_path, registry):
    with pytest.raises(InvalidInputError, match="sqlite:///path/to/registry.db"):
        registry_url("sqlite", "db://", None)
    assert registry_url("sqlite", "db://", f"sqlite:///{tmp_path}/r.db").database == f"{tmp_path}/r.db"
    with pytest.raises(InvalidInputError, match="exactly 'db://'"):
        registry_url("sqlite", "db://models", f"sqlite:///{tmp_path}/r.db")
    with pytest.raises(InvalidInputError, match="max_bytes"):
        make_store("db://", {"endpoint_url": "http://x"}, registry)
    assert make_store("db://", {"max_bytes": 4096}, registry).max_bytes == 4096
    with pytest.raises(InvalidInputError, match="db_url"):
        ModelService("sqlite", "db://")
    assert not list(tmp_path.glob("db*"))  # no folder named after the spelling


def test_a_service_keeps_its_models_in_the_sqlite_file_it_names(tmp_path, iris, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'team.db'}"
    with ModelService("sqlite", "db://", db_url=url) as service:
        service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
        assert service.save_model("lr")
        row = service.get_model_metadata("lr")
        expected = service.predict(X[:5])
    assert (row["file_path"], row["relative_path"], row["artifact_state"]) == ("db://lr/v1.joblib", "lr/v1.joblib",
                                                                               "ready")
    assert sorted(p.name for p in tmp_path.iterdir()) <= ["team.db", "team.db-shm", "team.db-wal"]
    with ModelService("sqlite", "db://", db_url=url) as other:
        other.load_model("lr")
        assert (other.predict(X[:5]) == expected).all()

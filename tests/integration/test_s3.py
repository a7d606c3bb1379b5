"""`FsspecStore` against a real S3 API (moto server): atomic publish, our own sha256, paths."""

from __future__ import annotations

import hashlib

import blake3
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService
from jupyter_modelservice.artifacts.remote import FsspecStore
from jupyter_modelservice.exceptions import ArtifactError, ArtifactIntegrityError, InvalidInputError

pytestmark = pytest.mark.s3


@pytest.fixture(params=[True, False], ids=["put", "temp-object"])
def store(request, s3_url, s3_options):
    return FsspecStore(s3_url, s3_options, atomic_put=request.param)


def listing(store):
    return list(store.iter_files())


def test_stage_publish_read(store):
    assert store.url.startswith("s3://ms-test/") and repr(store).startswith("FsspecStore(")
    data = bytes(range(256)) * 5000
    staged = store.stage("rf/v1.joblib", lambda fh: fh.write(data))
    assert staged.sha256 == hashlib.sha256(data).hexdigest() and staged.nbytes == len(data)
    assert staged.blake3 == blake3.blake3(data).hexdigest()
    assert not store.exists("rf/v1.joblib")  # nothing final before publish
    store.publish(staged)
    assert store.read_bytes("rf/v1.joblib") == data
    assert listing(store) == ["rf/v1.joblib"]  # no temp object left
    store.write_text("rf/v1.json", '{"a": 1}')
    assert store.read_bytes("rf/v1.json") == b'{"a": 1}'
    store.delete("rf/v1.joblib")
    store.delete("rf/v1.joblib")  # deleting twice is fine
    assert listing(store) == ["rf/v1.json"]
    with pytest.raises(ArtifactError, match="missing"):
        store.read_bytes("rf/v1.joblib")


def test_discard_and_failed_serialization_leave_nothing(store):
    staged = store.stage("rf/v1.joblib", lambda fh: fh.write(b"abc"))
    store.discard(staged)

    def broken(fh):
        fh.write(b"\x80partial")
        raise RuntimeError("serializer died")

    with pytest.raises(RuntimeError):
        store.stage("rf/v2.joblib", broken)
    assert listing(store) == []


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/../../x", "a//b", "a/./b", "", "s3://other/x", "a\\b", ".."])
def test_paths_outside_the_prefix_are_refused(store, bad):
    with pytest.raises(ArtifactIntegrityError, match="refusing"):
        store.stage(bad, lambda fh: fh.write(b"x"))
    with pytest.raises(ArtifactIntegrityError):
        store.read_bytes(bad)


def test_bucket_is_required(s3_options):
    with pytest.raises(InvalidInputError, match="bucket"):
        FsspecStore("s3://", s3_options)


def test_sqlite_registry_with_remote_store_is_refused(s3_url, s3_options, tmp_path):
    with pytest.raises(InvalidInputError, match="db_type='postgresql'"):
        ModelService(models_directory=s3_url, storage_options=s3_options)


@pytest.mark.postgres
def test_service_on_s3_verifies_hash_not_etag(pg_url, s3_url, s3_options, small_data):
    X, y = small_data
    svc = ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                       storage_options=s3_options)
    try:
        svc.train_model(LogisticRegression, X, y, model_id="lr")
        svc.save_model("lr")
        row = svc.get_model_metadata("lr")
        assert row["file_path"] == f"{s3_url.rstrip('/')}/lr/v1.joblib"  # a URL the user can open
        data = svc.store.read_bytes(row["relative_path"])
        assert row["file_sha256"] == hashlib.sha256(data).hexdigest()
        etag = svc.store.fs.info(svc.store.key(row["relative_path"]))["ETag"].strip('"')
        assert etag != row["file_sha256"]
        assert sorted(listing(svc.store)) == ["lr/v1.joblib", "lr/v1.json"]

        # Same length, other bytes: only our sha256 can tell.
        damaged = bytes([data[0] ^ 1]) + data[1:]
        svc.store.fs.pipe_file(svc.store.key(row["relative_path"]), damaged)
        other = ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                             storage_options=s3_options)
        with pytest.raises(ArtifactIntegrityError, match="sha256"):
            other.load_model("lr")
        svc.store.delete(row["relative_path"])
        with pytest.raises(ArtifactError, match="missing"):
            other.load_model("lr")
        other.close()
    finally:
        svc.close()


@pytest.mark.postgres
def test_failed_publish_leaves_no_row_pointing_at_nothing(pg_url, s3_url, s3_options, small_data,
                                                          monkeypatch):
    X, y = small_data
    with ModelService(db_type="postgresql", db_url=pg_url, models_directory=s3_url,
                      storage_options=s3_options) as svc:
        svc.train_model(LogisticRegression, X, y, model_id="lr")

        def boom(staged):
            raise OSError("connection reset")

        monkeypatch.setattr(svc.store, "publish", boom)
        with pytest.raises(OSError, match="connection reset"):
            svc.save_model("lr")
        row = svc.get_model_metadata("lr")
        assert row["relative_path"] is None and row["artifact_state"] is None
        assert listing(svc.store) == []

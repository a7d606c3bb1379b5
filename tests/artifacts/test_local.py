import hashlib
import os

import pytest

from jupyter_modelservice.artifacts.local import TEMP_PREFIX, LocalStore
from jupyter_modelservice.exceptions import ArtifactError, ArtifactIntegrityError


def test_stage_hashes_what_it_writes_and_publish_moves_it(tmp_path):
    store = LocalStore(tmp_path)
    payload = os.urandom(3 << 20) + b"tail"  # crosses the batching threshold

    def write(fh):
        fh.write(payload[:100])
        fh.write(payload[100:])

    staged = store.stage("m/v1.joblib", write)
    assert staged.temp.name.startswith(TEMP_PREFIX)
    assert not (tmp_path / "m" / "v1.joblib").exists()
    assert staged.sha256 == hashlib.sha256(payload).hexdigest()
    assert staged.nbytes == len(payload)
    store.publish(staged)
    assert store.read_bytes("m/v1.joblib") == payload
    assert not staged.temp.exists()


def test_failed_write_leaves_no_file(tmp_path):
    store = LocalStore(tmp_path)

    def write(fh):
        fh.write(b"partial")
        raise RuntimeError("serializer crashed")

    with pytest.raises(RuntimeError):
        store.stage("m/v1.joblib", write)
    assert list((tmp_path / "m").iterdir()) == []


def test_paths_cannot_leave_the_store(tmp_path):
    store = LocalStore(tmp_path / "models")
    with pytest.raises(ArtifactIntegrityError, match="outside"):
        store.path("../escape")
    (tmp_path / "models").mkdir()
    (tmp_path / "secret").write_bytes(b"x")
    (tmp_path / "models" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(ArtifactIntegrityError, match="outside"):
        store.read_bytes("link")


def test_missing_file_is_an_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="missing"):
        LocalStore(tmp_path).read_bytes("m/v9.joblib")

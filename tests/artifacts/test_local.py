import hashlib
import os

import blake3
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
    assert staged.blake3 == blake3.blake3(payload).hexdigest()
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


@pytest.fixture
def fsyncs(monkeypatch):
    """What each `os.fsync` call synced: (inode, is a folder, size) of its descriptor at that moment."""
    import stat

    calls = []
    real = os.fsync

    def spy(fd):
        st = os.fstat(fd)
        calls.append((st.st_ino, stat.S_ISDIR(st.st_mode), st.st_size))
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return calls


def test_stage_fsyncs_the_whole_temp_file(tmp_path, fsyncs):
    store = LocalStore(tmp_path)
    chunks = [bytes([i % 256]) * 100 for i in range(1000)]  # small writes: the last ones sit in a buffer
    payload = b"".join(chunks)
    staged = store.stage("m/v1.joblib", lambda fh: [fh.write(c) for c in chunks])
    assert staged.sha256 == hashlib.sha256(payload).hexdigest() and staged.nbytes == len(payload)
    assert fsyncs == [(staged.temp.stat().st_ino, False, len(payload))]  # written out before the fsync


def test_publish_fsyncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    staged = store.stage("m/v1.joblib", lambda fh: fh.write(b"model"))
    final = tmp_path / "m" / "v1.joblib"
    calls = []
    real = os.fsync

    def spy(fd):
        calls.append((os.fstat(fd).st_ino, final.exists()))
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store.publish(staged)
    assert calls == [((tmp_path / "m").stat().st_ino, True)]  # the folder, once the new name is in it
    assert final.read_bytes() == b"model"


def test_exists_sees_published_files_only_inside_the_store(tmp_path):
    store = LocalStore(tmp_path / "models")
    assert not store.exists("m/v1.joblib")
    staged = store.stage("m/v1.joblib", lambda fh: fh.write(b"model"))
    assert not store.exists("m/v1.joblib")
    store.publish(staged)
    assert store.exists("m/v1.joblib") and not store.exists("m/v2.joblib")
    (tmp_path / "outside").write_bytes(b"x")
    with pytest.raises(ArtifactIntegrityError, match="outside"):
        store.exists("../outside")


@pytest.mark.parametrize("kind, name", [("S_IFIFO", "a named pipe (FIFO)"), ("S_IFDIR", "a folder"),
                                        ("S_IFCHR", "a character device"), ("S_IFBLK", "a block device"),
                                        ("S_IFSOCK", "a socket"), (None, "a special file")])
def test_special_files_are_named_by_kind(kind, name):
    import stat

    from jupyter_modelservice.artifacts import local

    assert local._file_kind((getattr(stat, kind) if kind else 0) | 0o644) == name


def test_reading_a_folder_or_a_device_says_what_it_is(tmp_path):
    from jupyter_modelservice.artifacts.local import open_regular

    with pytest.raises(ArtifactIntegrityError) as info:
        open_regular(tmp_path)
    assert str(info.value).startswith(f"{tmp_path} is a folder, not a regular file; refusing to read it.")
    if os.path.exists("/dev/null"):
        with pytest.raises(ArtifactIntegrityError, match="^/dev/null is a character device, not a regular file"):
            open_regular("/dev/null")


def test_discard_removes_the_temp_file_and_may_be_repeated(tmp_path):
    store = LocalStore(tmp_path)
    staged = store.stage("m/v1.joblib", lambda fh: fh.write(b"model"))
    store.discard(staged)
    assert not staged.temp.exists() and list((tmp_path / "m").iterdir()) == []
    store.discard(staged)  # an error path may discard again: nothing left to remove is fine

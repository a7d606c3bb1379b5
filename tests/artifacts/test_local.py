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


def test_refusing_a_special_file_says_how_to_fix_it(tmp_path):
    from jupyter_modelservice.artifacts.local import open_regular

    fifo = tmp_path / "v1.joblib"
    os.mkfifo(fifo)
    with pytest.raises(ArtifactIntegrityError) as info:
        open_regular(fifo)  # opened without blocking: no writer needed to refuse it
    assert str(info.value) == (
        f"{fifo} is a named pipe (FIFO), not a regular file; refusing to read it. "
        "Remove it (or put the model file back), then run `modelservice verify`.")


def test_the_opened_file_reads_blocking(tmp_path):
    from jupyter_modelservice.artifacts.local import open_regular

    (tmp_path / "f").write_bytes(b"model")
    with open_regular(tmp_path / "f") as fh:  # opened non-blocking to refuse FIFOs, then set back
        assert os.get_blocking(fh.fileno())
        assert fh.read() == b"model"


def test_without_o_nonblock_a_regular_file_opens_in_binary_mode(tmp_path, monkeypatch):
    """Windows has O_BINARY and no O_NONBLOCK (nor blocking mode for files): the file is opened
    with O_BINARY (no newline translation) and left as it is."""
    from jupyter_modelservice.artifacts import local

    binary = 1 << 29  # a flag bit Linux does not use, stripped before the real open
    flags_seen, real_open = [], os.open

    def spy_open(path, flags, *args):
        flags_seen.append(flags)
        return real_open(path, flags & ~binary, *args)

    def no_set_blocking(fd, blocking):
        raise AssertionError("set_blocking called although O_NONBLOCK was not used")

    monkeypatch.delattr(os, "O_NONBLOCK")
    monkeypatch.setattr(os, "O_BINARY", binary, raising=False)
    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "set_blocking", no_set_blocking)
    (tmp_path / "f").write_bytes(b"a\r\nb")
    with local.open_regular(tmp_path / "f") as fh:
        assert fh.read() == b"a\r\nb"
    assert flags_seen == [os.O_RDONLY | binary]


def test_a_folder_removed_while_creating_is_created_again_then_the_error_is_raised(tmp_path, monkeypatch):
    import shutil

    from jupyter_modelservice.artifacts import local

    tries, real_open = [], open

    def open_after_removal(path, mode):  # another process deletes the folder's last version each time
        tries.append(path)
        shutil.rmtree(path.parent)
        return real_open(path, mode)

    monkeypatch.setattr(local, "open", open_after_removal, raising=False)
    with pytest.raises(FileNotFoundError):
        local._create_in_folder(tmp_path / "m" / "new")
    assert len(tries) == 5  # the default number of attempts, each after creating the folder again


def test_a_folder_removed_once_while_creating_is_created_again(tmp_path, monkeypatch):
    import shutil

    from jupyter_modelservice.artifacts import local

    real_open = open
    removals = [True]

    def open_after_one_removal(path, mode):
        if removals:
            removals.pop()
            shutil.rmtree(path.parent)
        return real_open(path, mode)

    monkeypatch.setattr(local, "open", open_after_one_removal, raising=False)
    with local._create_in_folder(tmp_path / "m" / "new") as fh:
        fh.write(b"x")
    assert (tmp_path / "m" / "new").read_bytes() == b"x"


def test_a_temp_file_removed_during_the_write_is_reported_by_name(tmp_path):
    store = LocalStore(tmp_path)
    names = []

    def write(fh):  # the model's folder is cleaned up by another process mid-save
        fh.write(b"model")
        names.append(fh.name)
        os.unlink(fh.name)

    with pytest.raises(ArtifactError) as info:
        store.stage("m/v1.joblib", write)
    assert str(info.value).startswith(f"Could not hash the new model file {names[0]}: [Errno 2] No such file")
    assert isinstance(info.value.__cause__, FileNotFoundError)  # the hasher's error, not lost in its thread
    assert list((tmp_path / "m").iterdir()) == []


def test_a_failed_write_whose_temp_file_is_gone_raises_the_writes_error(tmp_path):
    store = LocalStore(tmp_path)

    def write(fh):
        os.unlink(fh.name)
        raise RuntimeError("serializer crashed")

    with pytest.raises(RuntimeError, match="serializer crashed"):
        store.stage("m/v1.joblib", write)
    assert list((tmp_path / "m").iterdir()) == []


def test_the_store_url_is_its_absolute_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = LocalStore("models")
    assert store.url == str(tmp_path / "models")
    assert store.url == str(store.root)


@pytest.mark.parametrize("use", [
    lambda store, relpath: store.path(relpath),
    lambda store, relpath: store.location(relpath),
    lambda store, relpath: store.target(relpath),
    lambda store, relpath: store.read_bytes(relpath),
    lambda store, relpath: store.open(relpath),
    lambda store, relpath: store.exists(relpath),
    lambda store, relpath: store.delete(relpath),
    lambda store, relpath: store.write_text(relpath, "{}"),
    lambda store, relpath: store.stage(relpath, lambda fh: fh.write(b"model")),
], ids=["path", "location", "target", "read_bytes", "open", "exists", "delete", "write_text", "stage"])
def test_a_path_that_is_not_plain_is_refused_naming_the_models_directory(tmp_path, use):
    store = LocalStore(tmp_path / "models")
    with pytest.raises(ArtifactIntegrityError) as info:
        use(store, "m/../../secret")
    assert str(info.value) == (
        f"'m/../../secret' is not a plain relative path inside the models directory {tmp_path / 'models'} "
        "(it could name a place outside it); refusing it.")


def test_a_model_folder_that_is_a_symlink_is_refused_with_the_reason(tmp_path):
    store = LocalStore(tmp_path / "models")
    (tmp_path / "models").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "models" / "rf").symlink_to(tmp_path / "other")
    with pytest.raises(ArtifactIntegrityError) as info:
        store.stage("rf/v1.joblib", lambda fh: fh.write(b"model"))
    assert str(info.value) == (
        f"{tmp_path / 'models' / 'rf'} is (or passes through) a symbolic link; model folders must be real "
        "folders inside the models directory. Refusing to write there.")
    assert list((tmp_path / "other").iterdir()) == []


def test_opening_a_missing_file_names_it(tmp_path):
    store = LocalStore(tmp_path)
    with pytest.raises(ArtifactError) as info:
        store.open("m/v9.joblib")
    assert str(info.value) == f"Model file {tmp_path / 'm' / 'v9.joblib'} is missing."
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_a_hashing_thread_that_dies_without_a_result_is_an_artifact_error(tmp_path, monkeypatch):
    """An exception that is not an `Exception` ends the hashing thread without a result: the
    caller still gets an `ArtifactError` naming the temp file, and the temp file is removed."""
    import threading

    from jupyter_modelservice.artifacts import local

    class HasherKilled(BaseException):
        pass

    def killed(path):
        raise HasherKilled

    died = []
    monkeypatch.setattr(local, "file_digests", killed)
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_type))
    with pytest.raises(ArtifactError) as info:
        LocalStore(tmp_path).stage("m/v1.joblib", lambda fh: fh.write(b"model"))
    assert str(info.value).startswith(f"Could not hash the new model file {tmp_path / 'm' / TEMP_PREFIX}v1.joblib-")
    assert str(info.value).endswith(": its hashing thread ended without a result.")
    assert died == [HasherKilled]
    assert list((tmp_path / "m").iterdir()) == []


def test_on_windows_the_folder_is_not_opened_to_fsync_it(tmp_path, monkeypatch, fsyncs):
    """Directories cannot be opened on Windows: `_fsync_dir` does nothing there."""
    from jupyter_modelservice.artifacts import local

    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        local._fsync_dir(tmp_path)
    assert fsyncs == []
    local._fsync_dir(tmp_path)  # elsewhere the folder itself is synced
    assert fsyncs == [(tmp_path.stat().st_ino, True, tmp_path.stat().st_size)]

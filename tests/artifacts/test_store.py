"""The `Store` contract: both stores implement it and refuse the same paths, by one rule."""

from __future__ import annotations

import pytest

from jupyter_modelservice.artifacts import LocalStore, Store, check_relpath
from jupyter_modelservice.artifacts.remote import FsspecStore
from jupyter_modelservice.exceptions import ArtifactIntegrityError

BAD_PATHS = ["", "/etc/passwd", "rf/../../x", "..", "rf/./v1.joblib", "rf//v1.joblib", "rf\\v1.joblib",
             "rf/v1.joblib/", "s3://bucket/key", "rf/v1\x00.joblib", "."]


@pytest.fixture(params=["local", "fsspec"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "models")
    pytest.importorskip("fsspec")
    return FsspecStore(f"memory://{tmp_path.name}/models")


def test_both_stores_implement_the_contract(store):
    assert isinstance(store, Store)
    staged = store.stage("rf/v1.bin", lambda fh: fh.write(b"abc"))
    store.publish(staged)
    assert store.read_bytes("rf/v1.bin") == b"abc" and store.exists("rf/v1.bin")
    store.write_text("rf/v1.json", "{}")
    assert store.read_bytes("rf/v1.json") == b"{}"
    store.delete("rf/v1.bin")
    assert not store.exists("rf/v1.bin")
    assert store.location("rf/v1.json").endswith("rf/v1.json")


@pytest.mark.parametrize("relpath", BAD_PATHS)
def test_every_operation_of_every_store_refuses_a_path_that_is_not_plain(store, relpath):
    with pytest.raises(ArtifactIntegrityError, match="not a plain relative path"):
        check_relpath(relpath, "here")
    operations = [lambda: store.stage(relpath, lambda fh: fh.write(b"x")), lambda: store.write_text(relpath, "x"),
                  lambda: store.delete(relpath), lambda: store.read_bytes(relpath), lambda: store.exists(relpath),
                  lambda: store.location(relpath)]
    for operation in operations:
        with pytest.raises(ArtifactIntegrityError):
            operation()


def test_plain_paths_pass_the_rule():
    assert check_relpath("rf/v1.joblib", "here") == ["rf", "v1.joblib"]
    assert check_relpath("a.b_c-1/v12.json", "here") == ["a.b_c-1", "v12.json"]

"""`ModelFiles`: what is deserialized is exactly what was hashed, and a save registers before it publishes."""

from __future__ import annotations

import hashlib
import io
import json

import blake3
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ArtifactIntegrityError, ModelService, RegistryError
from jupyter_modelservice.artifacts import formats
from jupyter_modelservice.artifacts.local import TEMP_PREFIX


@pytest.fixture
def two_versions(service, iris):
    """``lr:1`` (C=0.01) and ``lr:2`` (C=100) saved as joblib: two valid files with different bytes."""
    X, y = iris
    for c in (0.01, 100.0):
        service.train_model(LogisticRegression, X, y, model_id="lr", C=c, max_iter=2000)
        service.save_model("lr")
    return service


@pytest.fixture
def deserialized(monkeypatch):
    """The bytes every call of `formats.loads` was given."""
    seen: list[bytes] = []
    real = formats.loads

    def spy(data, *args, **kwargs):
        seen.append(bytes(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(formats, "loads", spy)
    return seen


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("column", ["file_sha256", "file_blake3", "file_chunks"])
@pytest.mark.parametrize("position", [0, 31, 63], ids=["first digit", "middle digit", "last digit"])
def test_a_registered_digest_off_by_one_hex_digit_is_refused(two_versions, deserialized, position, column):
    row = two_versions.registry.get("lr", 1)  # with the chunk digests, which public rows leave out
    record = json.loads(row["file_chunks"])
    digest = record["blake3"][0] if column == "file_chunks" else row[column]
    other = "0" if digest[position] != "0" else "1"
    wrong = digest[:position] + other + digest[position + 1:]
    assert len(wrong) == 64 and wrong != digest
    # a new sha256 alone drops the faster digests; a row without chunk digests checks its BLAKE3
    changed = ({"file_chunks": json.dumps({**record, "blake3": [wrong]})} if column == "file_chunks"
               else {column: wrong, "file_chunks": None})
    two_versions.registry.update("lr", 1, changed)
    with ModelService(models_directory=two_versions.store.root) as fresh:
        with pytest.raises(ArtifactIntegrityError,
                           match="though a second read matches" if column == "file_chunks" else wrong):
            fresh.load_model("lr:1")
        assert fresh.current_model is None
    assert deserialized == []


def test_a_load_checks_the_chunk_digests_else_the_blake3_else_the_sha256(two_versions, iris, monkeypatch):
    X, _ = iris
    from jupyter_modelservice import model_files

    row = two_versions.registry.get("lr", 1)
    data = (two_versions.store.root / "lr" / "v1.joblib").read_bytes()
    assert row["file_blake3"] == blake3.blake3(data).hexdigest() and row["file_sha256"] == _sha(data)
    assert json.loads(row["file_chunks"])["blake3"] == [blake3.blake3(blake3.blake3(data).digest()).hexdigest()]
    calls: list[str] = []
    monkeypatch.setattr(model_files, "sha256_bytes", lambda data: calls.append("sha256") or _sha(data))
    monkeypatch.setattr(model_files, "blake3_bytes",
                        lambda data: calls.append("blake3") or blake3.blake3(data).hexdigest())
    with ModelService(models_directory=two_versions.store.root) as fresh:
        for dropped, expected in ((None, []), ("file_chunks", ["blake3"]), ("file_blake3", ["blake3", "sha256"])):
            if dropped:
                fresh.registry.update("lr", 1, {dropped: None})  # saved before it was kept
            fresh.current_model = None
            fresh.load_model("lr:1")
            assert calls == expected and fresh.current_model.C == 0.01 and fresh.predict(X) is not None

class SwitchingReads:
    """A store whose reads of one file return ``first``, then ``later`` on every further read."""

    def __init__(self, store, relpath: str, first: bytes, later: bytes) -> None:
        self.store, self.relpath, self.first, self.later = store, relpath, first, later
        self.reads = 0

    def __call__(self, relpath: str) -> bytes:
        if relpath != self.relpath:
            return self.store.__class__.read_bytes(self.store, relpath)
        self.reads += 1
        return self.first if self.reads == 1 else self.later


@pytest.mark.parametrize("path", ["whole file", "streamed"])
@pytest.mark.parametrize("first_read", ["genuine", "other version's"])
def test_the_bytes_deserialized_are_the_bytes_hashed(two_versions, iris, deserialized, monkeypatch, first_read,
                                                      path):
    """One read: a second read of the file (here, different bytes) is never what gets deserialized,
    whether the file is checked whole (a row without chunk digests) or while it streams."""
    X, _ = iris
    service = two_versions
    row = service.get_model_metadata("lr:1")
    genuine = (service.store.root / "lr" / "v1.joblib").read_bytes()
    other = (service.store.root / "lr" / "v2.joblib").read_bytes()
    assert _sha(genuine) == row["file_sha256"] != _sha(other)
    first, later = (genuine, other) if first_read == "genuine" else (other, genuine)
    expected = service.get_model("lr:1").predict(X)
    deserialized.clear()
    reads = SwitchingReads(service.store, row["relative_path"], first, later)
    with ModelService(models_directory=service.store.root) as fresh:
        if path == "whole file":
            fresh.registry.update("lr", 1, {"file_chunks": None})
            monkeypatch.setattr(fresh.store, "read_bytes", reads)
        else:
            monkeypatch.setattr(fresh.store, "open", lambda relpath: io.BytesIO(reads(relpath)))
        if first_read == "genuine":
            fresh.load_model("lr:1")
            assert fresh.current_model.C == 0.01  # lr:1's model, not lr:2's
            np.testing.assert_array_equal(fresh.predict(X), expected)
            assert deserialized == ([genuine] if path == "whole file" else [])
        else:
            with pytest.raises(ArtifactIntegrityError, match="does not match the digest"):
                fresh.load_model("lr:1")
            assert fresh.current_model is None and deserialized == []
    assert reads.reads == 1


def test_save_registers_the_new_sha256_as_pending_before_it_publishes(service, iris, monkeypatch):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=2000)
    published = []
    real_publish = service.store.publish

    def publish(staged):
        row = service.registry.get("lr", 1)
        published.append((staged.sha256, staged.nbytes, {k: row[k] for k in (
            "artifact_state", "file_sha256", "file_path", "file_format", "file_bytes")}))
        assert not (service.store.root / "lr" / "v1.joblib").exists()
        real_publish(staged)

    monkeypatch.setattr(service.store, "publish", publish)
    service.save_model("lr")
    (sha256, nbytes, at_publish), = published
    assert at_publish == {"artifact_state": "pending", "file_sha256": sha256, "file_path": "lr/v1.joblib",
                          "file_format": "joblib", "file_bytes": nbytes}
    data = (service.store.root / "lr" / "v1.joblib").read_bytes()
    assert _sha(data) == sha256 and len(data) == nbytes
    row = service.get_model_metadata("lr")
    assert (row["artifact_state"], row["file_sha256"], row["status"]) == ("ready", sha256, "saved")


def test_a_failed_pending_update_publishes_nothing(service, iris, monkeypatch):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=2000)
    real_set_file = service.registry.set_file
    attempts = []

    def set_file(model_id, version, values):
        if values.get("artifact_state") == "pending":
            attempts.append(dict(values))
            raise RegistryError("the registry went away")
        return real_set_file(model_id, version, values)

    monkeypatch.setattr(service.registry, "set_file", set_file)
    with pytest.raises(RegistryError, match="went away"):
        service.save_model("lr")
    assert len(attempts) == 1
    folder = service.store.root / "lr"
    assert list(folder.iterdir()) == []  # no final file, no temp file left behind
    row = service.get_model_metadata("lr")
    assert (row["artifact_state"], row["file_path"], row["status"]) == (None, None, "trained")


def test_a_failed_pending_update_of_a_resave_keeps_the_old_file(service, iris, monkeypatch):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=2000)
    service.save_model("lr")
    before = service.get_model_metadata("lr")
    old = (service.store.root / "lr" / "v1.joblib").read_bytes()
    real_set_file = service.registry.set_file

    def set_file(model_id, version, values):
        if values.get("artifact_state") == "pending":
            raise RegistryError("the registry went away")
        return real_set_file(model_id, version, values)

    monkeypatch.setattr(service.registry, "set_file", set_file)
    with pytest.raises(RegistryError, match="went away"):
        service.save_model("lr", save_format="pickle")
    names = sorted(p.name for p in (service.store.root / "lr").iterdir())
    assert names == ["v1.joblib", "v1.json"] and not any(n.startswith(TEMP_PREFIX) for n in names)
    assert (service.store.root / "lr" / "v1.joblib").read_bytes() == old
    after = service.get_model_metadata("lr")
    assert {k: after[k] for k in ("file_path", "file_format", "file_sha256", "artifact_state")} == \
        {k: before[k] for k in ("file_path", "file_format", "file_sha256", "artifact_state")}


def _sidecar_status(service, version):
    import json

    return json.loads((service.store.root / "lr" / f"v{version}.json").read_text())["status"]


def test_sidecars_follow_every_row_a_transaction_changes_and_only_if_it_commits(two_versions):
    service, registry = two_versions, two_versions.registry
    with service.files.atomic():
        registry.set_status("lr", 1, "production")
    with service.files.atomic():  # the demotion of version 1 is written to its sidecar too
        registry.set_status("lr", 2, "production")
    assert [_sidecar_status(service, v) for v in (1, 2)] == ["saved", "production"]

    class Boom(Exception):
        pass

    with pytest.raises(Boom), service.files.atomic():
        registry.set_status("lr", 1, "production")
        raise Boom
    assert [registry.get("lr", v)["status"] for v in (1, 2)] == ["saved", "production"]
    assert [_sidecar_status(service, v) for v in (1, 2)] == ["saved", "production"]


def test_a_row_with_chunk_digests_but_no_size_is_checked_whole(two_versions, iris):
    """(a version put back from a sidecar without its size) the stream needs the size: the load
    reads the file whole and checks its BLAKE3 instead."""
    two_versions.registry.update("lr", 1, {"file_bytes": None})
    assert two_versions.registry.get("lr", 1)["file_chunks"]
    with ModelService(models_directory=two_versions.store.root) as fresh:
        fresh.load_model("lr:1")
        assert fresh.current_model.C == 0.01

"""Export of one version to a .zip and import elsewhere: verified, never extracted by name."""

from __future__ import annotations

import json
import zipfile

import blake3
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidInputError,
    InvalidModelIdError,
    ModelService,
    maintenance,
)
from jupyter_modelservice.artifacts.digests import Digests


def _imported(report):
    """The one version an import added, as ``{"ref", **details}``."""
    [found] = report.of("imported")
    return {**found.details, "ref": found.ref}



@pytest.fixture
def exported(tmp_path, tiny_data):
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "source") as source:
        for c in (1.0, 2.0, 3.0):
            source.train_model(LogisticRegression, X, y, model_id="lr", C=c)
            source.save_model("lr", save_format="skops" if c == 3.0 else "joblib")
        source.update_model_metadata("lr:3", {"status": "production", "tags": {"team": "a"}})
        manifest = maintenance.export_version(source, "lr", tmp_path / "lr3.zip")
        expected = source.get_model("lr:3").predict(X)
    return tmp_path / "lr3.zip", manifest, expected


def test_a_version_travels_with_its_metadata_and_keeps_its_number(tmp_path, tiny_data, exported):
    X, _ = tiny_data
    archive, manifest, expected = exported
    assert manifest["version"] == 3 and manifest["file_format"] == "skops"
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["manifest.json", "metadata.json", "model.skops"]
    with ModelService(models_directory=tmp_path / "target") as target:
        first = _imported(maintenance.import_version(target, archive))
        assert first["ref"] == "lr:3" and first["kept_version"]
        second = _imported(maintenance.import_version(target, archive))  # 3 is taken now: the next one
        assert second["ref"] == "lr:4" and not second["kept_version"]
        row = target.get_model_metadata("lr:3")
        assert row["status"] == "saved" and row["tags"] == {"team": "a"} and row["artifact_state"] == "ready"
        assert row["file_sha256"] == manifest["sha256"]
        events = target.model_history("lr", 3)
        assert events[0]["event"] == "imported" and events[0]["details"]["original"] == "lr:3"
        assert events[0]["details"]["original_status"] == "production"
        assert row["trust"] == "unverified"  # an archive is transport, not evidence: a person confirms it
        target.trust("lr:4")
        target.load_model("lr:4")
        np.testing.assert_array_equal(target.predict(X), expected)
        renamed = _imported(maintenance.import_version(target, archive, model_id="lr_copy"))
        assert renamed["ref"] == "lr_copy:3"
        assert maintenance.verify(target, grace=0).kinds() == {"unverified": 2}  # lr:3 and lr_copy:3


def _rewrite(archive, dest, *, manifest=None, metadata=None, model=None, extra=None, drop=()):
    with zipfile.ZipFile(archive) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    base = json.loads(entries["manifest.json"])
    if manifest:
        entries["manifest.json"] = json.dumps({**base, **manifest}).encode()
    if metadata:
        entries["metadata.json"] = json.dumps({**json.loads(entries["metadata.json"]), **metadata}).encode()
    if model is not None:
        entries[base["file"]] = model(entries[base["file"]])
    for name in drop:
        entries.pop(name)
    entries.update(extra or {})
    with zipfile.ZipFile(dest, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return dest


def _flip(data):
    return data[:100] + bytes([data[100] ^ 1]) + data[101:]


@pytest.mark.parametrize("change, error, match", [
    ({"model": _flip}, ArtifactIntegrityError, "sha256"),
    ({"model": lambda d: d[:-10]}, ArtifactIntegrityError, "bytes but the manifest"),
    ({"manifest": {"sha256": "0" * 64}}, ArtifactIntegrityError, "disagree on sha256"),
    ({"manifest": {"file": "../../evil.skops"}}, ArtifactError, "expected model.<ext>"),
    ({"extra": {"../../evil.py": b"import os"}}, ArtifactError, "unexpected entries"),
    ({"manifest": {"archive_protocol": 2}}, ArtifactError, "protocol 2"),
    ({"manifest": {"model_id": "../x"}, "metadata": {"model_id": "../x"}}, InvalidModelIdError, "separator"),
    ({"manifest": {"version": 0}, "metadata": {"version": 0}}, InvalidModelIdError, "positive integer"),
    ({"manifest": {"file_format": "joblib", "file": "model.joblib", "bytes": 11}, "drop": ["model.skops"],
      "extra": {"model.joblib": b"PK\x03\x04 a zip!"}}, ArtifactIntegrityError, "not a joblib file"),
    ({"drop": ["metadata.json"]}, ArtifactError, "no metadata.json"),
])
def test_a_doctored_archive_adds_nothing(tmp_path, exported, change, error, match):
    archive, _, _ = exported
    bad = _rewrite(archive, tmp_path / "bad.zip", **change)
    with ModelService(models_directory=tmp_path / "target") as target:
        with pytest.raises(error, match=match):
            _imported(maintenance.import_version(target, bad))
        assert target.list_models() == []
        files = [p for p in (tmp_path / "target").rglob("*") if p.is_file() and not p.name.startswith("registry")]
        assert files == []
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()


def test_not_an_archive_and_case_twins_are_refused(tmp_path, tiny_data, exported):
    X, y = tiny_data
    archive, _, _ = exported
    (tmp_path / "plain.zip").write_bytes(b"not a zip at all")
    with ModelService(models_directory=tmp_path / "target") as target:
        with pytest.raises(ArtifactError, match="not a model archive"):
            _imported(maintenance.import_version(target, tmp_path / "plain.zip"))
        target.train_model(LogisticRegression, X, y, model_id="LR")
        with pytest.raises(InvalidModelIdError, match="letter case"):
            _imported(maintenance.import_version(target, archive))


def test_a_damaged_or_unsaved_version_is_not_exported(tmp_path, tiny_data):
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(LogisticRegression, X, y, model_id="lr")
        with pytest.raises(ArtifactError, match="save_model"):
            maintenance.export_version(service, "lr", tmp_path / "a.zip")
        service.save_model("lr")
        (tmp_path / "b.zip").write_bytes(b"keep me")
        with pytest.raises(InvalidInputError, match="already exists"):
            maintenance.export_version(service, "lr", tmp_path / "b.zip")
        assert (tmp_path / "b.zip").read_bytes() == b"keep me"
        (tmp_path / "models" / "lr" / "v1.joblib").write_bytes(b"\x80changed")
        with pytest.raises(ArtifactIntegrityError, match="not exported"):
            maintenance.export_version(service, "lr", tmp_path / "a.zip")
        assert not (tmp_path / "a.zip").exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_an_imported_version_gets_the_digests_of_its_bytes_not_the_archives_word(tmp_path, tiny_data, exported):
    X, _ = tiny_data
    archive, manifest, expected = exported
    claimed = tmp_path / "claimed.zip"
    forged_chunks = json.dumps({"leaf": 1 << 20, "group": 1, "blake3": ["0" * 64]})
    with zipfile.ZipFile(archive) as zf, zipfile.ZipFile(claimed, "w") as out:
        for name in zf.namelist():
            data = zf.read(name)
            if name == "metadata.json":
                data = json.dumps({**json.loads(data), "file_blake3": "0" * 64,
                                   "file_chunks": forged_chunks}).encode()
            out.writestr(name, data)
    with ModelService(models_directory=tmp_path / "target") as target:
        maintenance.import_version(target, claimed)
        target.trust("lr:3")
        row = target.get_model_metadata("lr:3")
        data = (tmp_path / "target" / row["relative_path"]).read_bytes()
        assert row["file_blake3"] == blake3.blake3(data).hexdigest() != "0" * 64
        assert target.registry.get("lr", 3)["file_chunks"] == Digests.of(data).chunks != forged_chunks
        assert "file_chunks" not in row  # public rows leave the chunk digests out
        np.testing.assert_array_equal(target.get_model("lr:3").predict(X), expected)


def test_import_does_not_reuse_a_deleted_version_number(tmp_path, tiny_data, exported):
    archive, _, _ = exported
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "target") as target:
        for _ in range(3):
            target.train_model(LogisticRegression, X, y, model_id="lr")
        target.delete_model("lr:3")
        result = _imported(maintenance.import_version(target, archive))
        assert result["version"] == 4 and not result["kept_version"]
        assert [e["event"] for e in target.model_history("lr:4")] == ["imported"]

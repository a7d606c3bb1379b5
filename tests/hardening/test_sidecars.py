"""The database and the JSON sidecars agree; a lost database is rebuilt from them.

Also the repairs after a crash (`maintenance.repair`) and garbage collection
(`maintenance.collect_garbage`), which must never lose a model.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from jupyter_modelservice import (
    ArtifactError,
    ModelService,
    ModelServiceWarning,
    NoModelError,
    UnverifiedModelError,
    maintenance,
)
from jupyter_modelservice.maintenance.files import comparable_row


def _sidecar(models, model_id, version):
    data = json.loads((models / model_id / f"v{version}.json").read_text())
    assert data.pop("sidecar_protocol") == 1
    return data


@pytest.fixture
def busy(tmp_path, tiny_data):
    """A registry after a varied session: formats, promotions, tags, CV, evaluation, archive, delete, gc."""
    X, y = tiny_data
    models = tmp_path / "models"
    service = ModelService(models_directory=models)
    for fmt in ("joblib", "pickle", "skops"):
        service.train_model(LogisticRegression, X, y, model_id="lr", C=len(fmt))
        service.save_model("lr", save_format=fmt)
    service.train_model(DecisionTreeClassifier, X, y, model_id="tree", max_depth=2)
    service.save_model("tree")
    service.save_model("tree", save_format="pickle")  # saved again in another format
    service.train_model(DecisionTreeClassifier, X, y, model_id="unsaved")
    service.update_model_metadata("lr:1", {"status": "production", "tags": {"team": "a"}})
    service.update_model_metadata("lr:2", {"status": "production"})  # demotes lr:1
    service.update_model_metadata("lr:2", {"tags": {"team": "b", "note": "x'; DROP TABLE y; --"}})
    service.cross_validate_model(LogisticRegression, X, y, cv_folds=3, model_id="lr:3")
    service.evaluate_model(X, y, model_id="tree")
    service.train_model(DecisionTreeClassifier, X, y, model_id="gone")
    service.save_model("gone")
    service.delete_model("gone")
    service.archive_model("lr:3")
    maintenance.collect_garbage(service, grace=0)  # removes lr:3's file, keeps its row and sidecar
    yield service
    service.close()


def test_every_saved_version_has_a_sidecar_equal_to_its_row(busy):
    models = busy.store.root
    rows = busy.registry.list()  # as stored: sidecars mirror these
    saved = [r for r in rows if r["artifact_state"] in ("ready", "removed")]
    assert {(r["model_id"], r["version"]) for r in saved} == {("lr", 1), ("lr", 2), ("lr", 3), ("tree", 1)}
    for row in saved:
        assert _sidecar(models, row["model_id"], row["version"]) == comparable_row(row)
    assert _sidecar(models, "lr", 1)["status"] == "saved"  # demoted in the database and in the sidecar
    assert not (models / "gone").exists() or not any((models / "gone").iterdir())
    assert not (models / "unsaved").exists()
    report = maintenance.verify(busy, grace=0)
    assert report.ok, report.to_dict()


def test_a_lost_database_is_rebuilt_from_the_sidecars(busy):
    models = busy.store.root
    before = {(r["model_id"], r["version"]): comparable_row(r) for r in busy.registry.list()
              if r["artifact_state"] in ("ready", "removed")}
    busy.close()
    for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
        (models / name).unlink(missing_ok=True)
    with ModelService(models_directory=models) as fresh:
        assert fresh.list_models() == []
        report = maintenance.rebuild_index(fresh)
        assert report.ok and sorted(report.refs("added")) == ["lr:1", "lr:2", "lr:3", "tree:1"]
        assert report.refs("unverified") == report.refs("added")  # sidecars are not evidence
        after = {(r["model_id"], r["version"]): comparable_row(r) for r in fresh.registry.list()}
        assert after[("lr", 2)]["status"] == "saved"  # it claimed production: the registry decides that
        before[("lr", 2)]["status"] = "saved"
        assert after == before
        with pytest.raises(UnverifiedModelError, match="rebuild-index"):
            fresh.load_model("tree")
        assert maintenance.verify(fresh, grace=0).kinds() == {"unverified": 3}  # lr:3 has no file to load
        for ref in report.refs("added"):
            fresh.trust(ref)
        assert fresh.load_model("tree") and fresh.load_model("lr:2")
        with pytest.raises(NoModelError, match="removed by garbage collection"):
            fresh.load_model("lr:3")
        assert [e["event"] for e in fresh.model_history("lr", 2)] == ["restored", "trusted"]
        assert fresh.model_history("lr", 2)[0]["details"]["claimed_status"] == "production"
        assert maintenance.verify(fresh, grace=0).ok
        again = maintenance.rebuild_index(fresh)
        assert again.refs("added") == [] and sorted(again.refs("present")) == sorted(report.refs("added"))
        fresh.train_model(DecisionTreeClassifier, *_xy(), model_id="lr")
        assert fresh.list_models(model_id="lr")[0]["version"] == 4  # numbering continues


def _xy():
    import numpy as np

    X = np.random.default_rng(1).normal(size=(20, 2))
    return X, (X[:, 0] > 0).astype(int)


def _write_sidecar(models, model_id, version, data):
    (models / model_id).mkdir(exist_ok=True)
    (models / model_id / f"v{version}.json").write_text(json.dumps(data))


def test_rebuild_refuses_sidecars_that_lie_or_point_elsewhere(busy, tmp_path):
    models = busy.store.root
    good = _sidecar(models, "tree", 1)
    good["sidecar_protocol"] = 1
    outside = tmp_path / "outside.joblib"
    outside.write_bytes((models / "tree" / "v1.pkl").read_bytes())
    cases = {
        "escape": {**good, "model_id": "escape", "file_path": "../../outside.joblib", "file_format": "joblib"},
        "moved": {**good, "model_id": "somewhere_else"},
        "damaged": {**good, "model_id": "damaged", "file_path": "damaged/v1.pkl"},
        "future": {**good, "model_id": "future", "sidecar_protocol": 99},
        "pending": {**good, "model_id": "pending", "artifact_state": "pending"},
    }
    for name, data in cases.items():
        _write_sidecar(models, name, 1, data)
    (models / "damaged" / "v1.pkl").write_bytes(b"\x80not the model")
    (models / "garbled").mkdir()
    (models / "garbled" / "v1.json").write_text("{not json")
    os.symlink(outside, models / "escape" / "v1.joblib")
    busy.close()
    for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
        (models / name).unlink(missing_ok=True)
    with ModelService(models_directory=models) as fresh:
        report = maintenance.rebuild_index(fresh)
        refused = {item.path.split("/")[0]: item.details["reason"] for item in report.of("refused")}
        assert set(refused) == {"escape", "moved", "damaged", "future", "pending", "garbled"}
        assert "points at '../../outside.joblib'" in refused["escape"]
        assert "sits at moved:1" in refused["moved"]
        assert "sha256" in refused["damaged"]
        assert "protocol 99" in refused["future"]
        assert not report.ok and sorted(report.refs("added")) == ["lr:1", "lr:2", "lr:3", "tree:1"]
        assert {r["model_id"] for r in fresh.list_models()} == {"lr", "tree"}


def test_rebuild_never_restores_a_production_version_on_a_sidecar_word(tmp_path, tiny_data):
    X, y = tiny_data
    models = tmp_path / "models"
    with ModelService(models_directory=models) as service:
        for _ in range(2):
            service.train_model(LogisticRegression, X, y, model_id="lr")
            service.save_model("lr")
    for version in (1, 2):  # as if written by an older package that forgot the demotion
        data = json.loads((models / "lr" / f"v{version}.json").read_text())
        data["status"] = "production"
        (models / "lr" / f"v{version}.json").write_text(json.dumps(data))
    for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
        (models / name).unlink(missing_ok=True)
    with ModelService(models_directory=models) as fresh:
        report = maintenance.rebuild_index(fresh)
        assert sorted(report.refs("added")) == ["lr:1", "lr:2"]
        assert [r["status"] for r in fresh.list_models(model_id="lr", order_by="version")] == ["saved", "saved"]
        assert [fresh.model_history("lr", v)[0]["details"]["claimed_status"] for v in (1, 2)] == ["production"] * 2
        for version in (1, 2):  # the sidecars follow the registry again
            assert json.loads((models / "lr" / f"v{version}.json").read_text())["status"] == "saved"


# -- repairs after a crash --------------------------------------------------------------
def test_repair_finishes_or_undoes_interrupted_saves(tmp_path, tiny_data):
    X, y = tiny_data
    models = tmp_path / "models"
    service = ModelService(models_directory=models)
    for model_id in ("first", "resaved", "published", "nosidecar", "damaged"):
        service.train_model(LogisticRegression, X, y, model_id=model_id)
        service.save_model(model_id)
    service.train_model(LogisticRegression, X, y, model_id="first", C=0.3)
    sha = lambda path: __import__("hashlib").sha256(path.read_bytes()).hexdigest()  # noqa: E731
    # killed after the row went 'pending', before the rename: first save of first:2 ...
    service.registry.update("first", 2, {"file_path": "first/v2.joblib", "file_format": "joblib",
                                         "file_sha256": "0" * 64, "file_bytes": 10, "artifact_state": "pending"})
    # ... and a re-save of resaved:1 in another format (its joblib file and sidecar are still there;
    # the registry recorded the file being replaced, as ModelFiles.save does)
    replaced = {k: service.registry.get("resaved", 1)[k]
                for k in ("file_path", "file_format", "file_sha256", "file_bytes", "artifact_state")}
    with service.registry.atomic():
        service.registry.set_file("resaved", 1, {"file_path": "resaved/v1.pkl", "file_format": "pickle",
                                                 "file_sha256": "1" * 64, "artifact_state": "pending"})
        service.registry.record_event("resaved", 1, "resave", {"previous": replaced})
    # killed after the rename, before 'ready'
    service.registry.update("published", 1, {"artifact_state": "pending", "status": "trained"})
    (models / "nosidecar" / "v1.json").unlink()
    (models / "damaged" / "v1.joblib").write_bytes(b"\x80 changed by someone")
    service.close()

    fresh = ModelService(models_directory=models)
    with pytest.raises(ArtifactError, match="never completed"):
        fresh.load_model("first:2")
    assert fresh.load_model("published")  # complete file with the right hash: loadable already
    found = maintenance.verify(fresh, grace=0)
    assert found.kinds() == {"incomplete_save": 3, "missing_sidecar": 1, "hash_mismatch": 1,
                             "orphan_file": 1}  # resaved/v1.joblib, until repair points back at it
    repaired = maintenance.repair(fresh, grace=0)
    assert {k: repaired.refs(k) for k in ("completed", "restored", "cleared", "sidecar_rewritten")} == {
        "completed": ["published:1"], "restored": ["resaved:1"], "cleared": ["first:2"],
        "sidecar_rewritten": ["nosidecar:1"]}
    assert repaired.paths("restored") == ["resaved/v1.joblib"]  # back on the database's word: still trusted
    assert fresh.get_model_metadata("published")["status"] == "saved"
    assert fresh.load_model("resaved") and fresh.get_model_metadata("resaved")["file_format"] == "joblib"
    with pytest.raises(NoModelError, match="never saved"):
        fresh.load_model("first:2")
    assert fresh.load_model("first:1")
    left = maintenance.verify(fresh, grace=0)
    assert left.kinds() == {"hash_mismatch": 1}  # never "repaired": a human must look at it
    assert sha(models / "damaged" / "v1.joblib") != fresh.get_model_metadata("damaged")["file_sha256"]
    fresh.close()


# -- garbage collection ----------------------------------------------------------------
def test_gc_removes_stale_temp_files_and_archived_files_and_nothing_else(tmp_path, tiny_data):
    X, y = tiny_data
    models = tmp_path / "models"
    service = ModelService(models_directory=models)
    for i in range(3):
        service.train_model(LogisticRegression, X, y, model_id="lr", C=1 + i)
        service.save_model("lr")
    service.archive_model("lr:1")
    service.archive_model("lr:2")
    service.update_model_metadata("lr:2", {"status": "saved"})  # un-archived again: keeps its file
    old_temp = models / "lr" / ".tmp-v9.joblib-abc"
    old_temp.write_bytes(b"x" * 1000)
    stamp = time.time() - 7200
    os.utime(old_temp, (stamp, stamp))
    young_temp = models / "lr" / ".tmp-v8.joblib-def"
    young_temp.write_bytes(b"y" * 10)
    orphan = models / "lost" / "v1.joblib"
    orphan.parent.mkdir()
    orphan.write_bytes(b"z" * 50)
    archived_bytes = service.get_model_metadata("lr:1")["file_bytes"]

    dry = maintenance.collect_garbage(service, dry_run=True)
    assert dry.total_bytes("removed") == 1000 + archived_bytes
    assert old_temp.exists() and (models / "lr" / "v1.joblib").exists()

    report = maintenance.collect_garbage(service)
    assert sorted(report.paths("removed")) == ["lr/.tmp-v9.joblib-abc", "lr/v1.joblib"]
    assert report.total_bytes("removed") == dry.total_bytes("removed")
    assert set(report.paths("kept")) == {"lr/.tmp-v8.joblib-def", "lost/v1.joblib"}
    assert not old_temp.exists() and young_temp.exists() and orphan.exists()
    row = service.get_model_metadata("lr:1")
    assert row["file_path"] is None and row["artifact_state"] == "removed" and row["file_sha256"]
    assert _sidecar(models, "lr", 1)["artifact_state"] == "removed"
    assert [e["event"] for e in service.model_history("lr", 1)][-1] == "file_removed"
    with pytest.raises(NoModelError, match="removed by garbage collection"):
        service.load_model("lr:1")
    assert service.load_model("lr:2") and service.load_model("lr:3")
    assert maintenance.collect_garbage(service, grace=7200).of("removed") == []  # nothing left to do
    service.close()


def test_gc_leaves_a_version_unarchived_meanwhile(tmp_path, tiny_data):
    from jupyter_modelservice.maintenance.gc import _detach_file

    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(LogisticRegression, X, y, model_id="lr")
        service.save_model("lr")
        service.archive_model("lr")
        seen = service.get_model_metadata("lr")
        service.update_model_metadata("lr", {"status": "production"})  # between gc's read and its write
        assert _detach_file(service, seen) is None
        assert service.get_model_metadata("lr")["relative_path"] == "lr/v1.joblib" and service.load_model("lr")


def test_sidecar_follows_changes_after_gc_removed_the_file(tmp_path, tiny_data):
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(LogisticRegression, X, y, model_id="lr")
        service.save_model("lr")
        service.archive_model("lr")
        maintenance.collect_garbage(service, grace=0)
        with pytest.warns(ModelServiceWarning, match="no saved file"):
            service.update_model_metadata("lr", {"status": "saved", "tags": {"kept": "metadata"}})
        sidecar = json.loads((tmp_path / "models" / "lr" / "v1.json").read_text())
        assert sidecar["status"] == "saved" and sidecar["tags"] == {"kept": "metadata"}
        assert sidecar["artifact_state"] == "removed"
        assert maintenance.verify(service, grace=0).ok


def test_maintenance_works_on_an_fsspec_store(tmp_path, tiny_data):
    """verify, gc and rebuild use only the store protocol, so object stores work too."""
    from jupyter_modelservice.artifacts.remote import FsspecStore

    X, y = tiny_data
    service = ModelService(models_directory=tmp_path / "models")
    service.store = FsspecStore(f"memory://hardening-{tmp_path.name}")
    for c in (1.0, 2.0):
        service.train_model(LogisticRegression, X, y, model_id="lr", C=c)
        service.save_model("lr")
    service.archive_model("lr:1")
    assert maintenance.verify(service, grace=0).ok
    service.store.write_text("lr/v2.joblib", "changed")
    assert maintenance.verify(service, grace=0).kinds() == {"hash_mismatch": 1}
    service.save_model("lr", version=2, save_format="pickle")
    report = maintenance.collect_garbage(service, grace=0)
    assert set(report.paths("removed")) == {"lr/v1.joblib"}
    assert report.of("kept") == [] and maintenance.verify(service, grace=0).ok
    store = service.store
    service.close()
    service = ModelService(models_directory=tmp_path / "other")  # the database was lost
    service.store = store
    rebuilt = maintenance.rebuild_index(service)
    assert sorted(rebuilt.refs("added")) == ["lr:1", "lr:2"] and rebuilt.refs("unverified") == rebuilt.refs("added")
    service.trust("lr:2")
    assert service.load_model("lr:2")
    service.close()


@pytest.mark.parametrize("column, forged", [
    ("file_blake3", "0" * 64), ("file_chunks", json.dumps({"leaf": 1 << 20, "group": 1, "blake3": ["0" * 64]}))])
def test_verify_checks_the_digests_a_load_relies_on(tmp_path, tiny_data, column, forged):
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(LogisticRegression, X, y, model_id="lr")
        service.save_model("lr")
        assert maintenance.verify(service, grace=0).ok
        # the sha256 still matches, the faster digest does not: a load would refuse the file, so verify says so
        service.registry.set_file("lr", 1, {column: forged})
        assert maintenance.verify(service, grace=0).kinds() == {"hash_mismatch": 1, "stale_sidecar": 1}

"""migrate_registry: a local registry copied to PostgreSQL (+ S3) without loss, re-runnable."""

from __future__ import annotations

import blake3
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService, maintenance
from jupyter_modelservice.exceptions import InvalidInputError
from jupyter_modelservice.migrate import migrate_registry


@pytest.fixture
def source(tmp_path, small_data):
    """A local registry with saved, promoted, unsaved and deleted versions."""
    X, y = small_data
    svc = ModelService(models_directory=tmp_path / "local")
    svc.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=5, random_state=0)
    svc.save_model()
    svc.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=8, random_state=0)
    svc.save_model(save_format="pickle")
    svc.cross_validate_model(LogisticRegression, X, y, cv_folds=3, model_id="rf:2")
    svc.evaluate_model(X, y, model_id="rf:1")
    svc.update_model_metadata("rf:1", {"status": "production", "tags": {"team": "eu"}})
    svc.update_model_metadata("rf:2", {"status": "production"})
    svc.train_model(LogisticRegression, X, y, model_id="draft")  # never saved: row only
    for _ in range(2):
        svc.train_model(LogisticRegression, X, y, model_id="old")
        svc.save_model()
    svc.delete_model("old:1")  # its events stay in the history
    yield svc
    svc.close()


#: Where the model files go; PostgreSQL always holds the registry.
STORES = [pytest.param("local", marks=pytest.mark.postgres),
          pytest.param("s3", marks=[pytest.mark.postgres, pytest.mark.s3])]


@pytest.fixture(params=STORES)
def target(request, tmp_path):
    pg_url = request.getfixturevalue("pg_url")
    if request.param == "s3":
        where = {"models_directory": request.getfixturevalue("s3_url"),
                 "storage_options": request.getfixturevalue("s3_options")}
    else:
        where = {"models_directory": tmp_path / "team"}
    svc = ModelService(db_type="postgresql", db_url=pg_url, **where)
    yield svc
    svc.close()


def rows_of(svc):
    return {(r["model_id"], r["version"]): r for r in svc.registry.list()}  # as stored: relative paths


def test_everything_is_copied_and_verified(source, target, small_data):
    X, _ = small_data
    seen = []
    report = migrate_registry(source, target, progress=lambda d, t: seen.append((d, t)))
    assert report["ok"] and report["versions"] == 4 and seen[-1] == (4, 4)
    assert sorted(report["copied"]) == ["draft:1", "old:2", "rf:1", "rf:2"]
    assert report["files_copied"] == 3 and report["conflicts"] == report["failed"] == []

    assert rows_of(target) == rows_of(source)  # every column, every version
    for model_id in ("rf", "draft", "old"):
        before = [{k: e[k] for k in ("version", "event", "from_status", "to_status", "actor", "at", "details")}
                  for e in source.model_history(model_id)]
        after = [{k: e[k] for k in ("version", "event", "from_status", "to_status", "actor", "at", "details")}
                 for e in target.model_history(model_id) if e["event"] != "imported"]
        assert sorted(after, key=lambda e: (e["at"], e["version"])) == \
            sorted(before, key=lambda e: (e["at"], e["version"]))
    assert any(e["event"] == "deleted" and e["version"] == 1 for e in target.model_history("old"))
    imported = [e for e in target.model_history("rf") if e["event"] == "imported"]
    assert [e["version"] for e in imported] == [1, 2] and imported[0]["details"]["from"] == report["source"]

    for ref in ("rf:1", "rf:2", "old:2"):
        np.testing.assert_array_equal(target.get_model(ref).predict(X), source.get_model(ref).predict(X))
    assert target.store.exists("rf/v2.json") and target.store.exists("rf/v2.pkl")
    assert [r["version"] for r in target.list_models(status="production")] == [2]


def test_rerun_is_idempotent_and_conflicts_are_reported(source, target, small_data):
    X, y = small_data
    assert migrate_registry(source, target)["ok"]
    before_rows, before_events = rows_of(target), target.registry.events()
    again = migrate_registry(source, target)
    assert again["ok"] and sorted(again["skipped"]) == ["draft:1", "old:2", "rf:1", "rf:2"]
    assert again["copied"] == [] and again["events_copied"] == 0 and again["files_copied"] == 0
    assert rows_of(target) == before_rows and target.registry.events() == before_events

    # The team trains rf:3 on its side; the source also gets an rf:3 of its own.
    target.train_model(LogisticRegression, X, y, model_id="rf", C=0.5)
    target.save_model()
    source.train_model(LogisticRegression, X, y, model_id="rf", C=2.0)
    source.save_model()
    team_row = target.get_model_metadata("rf:3")
    third = migrate_registry(source, target)
    assert not third["ok"] and [c["ref"] for c in third["conflicts"]] == ["rf:3"]
    assert "different rf:3" in third["conflicts"][0]["reason"]
    assert target.get_model_metadata("rf:3") == team_row  # never overwritten


def test_damaged_source_file_is_reported_not_copied(source, target, tmp_path):
    path = tmp_path / "local" / "rf" / "v1.joblib"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    report = migrate_registry(source, target)
    assert not report["ok"] and [f["ref"] for f in report["failed"]] == ["rf:1"]
    assert "does not match its sha256" in report["failed"][0]["reason"]
    assert ("rf", 1) not in rows_of(target) and not target.store.exists("rf/v1.joblib")
    assert sorted(report["copied"]) == ["draft:1", "old:2", "rf:2"]


def test_interrupted_copy_is_finished_by_a_rerun(source, target, monkeypatch, small_data):
    X, _ = small_data
    real = target.store.publish

    def flaky(staged):
        if staged.relpath == "rf/v2.pkl":
            raise OSError("connection reset")
        real(staged)

    monkeypatch.setattr(target.store, "publish", flaky)
    first = migrate_registry(source, target)
    assert [f["ref"] for f in first["failed"]] == ["rf:2"] and "connection reset" in first["failed"][0]["reason"]
    assert target.get_model_metadata("rf:2")["artifact_state"] == "pending"
    monkeypatch.undo()
    second = migrate_registry(source, target)
    assert second["ok"] and second["resumed"] == ["rf:2"]
    assert target.get_model_metadata("rf:2")["artifact_state"] == "ready"
    np.testing.assert_array_equal(target.get_model("rf:2").predict(X), source.get_model("rf:2").predict(X))
    assert [e["event"] for e in target.model_history("rf", 2)].count("imported") == 1



def test_an_unfinished_source_save_waits_for_repair(source, target, tmp_path):
    # rf:2 was being saved again when the source's saver died: its row is pending, no file yet
    with source.registry.atomic():
        previous = {k: source.registry.get("rf", 2)[k]
                    for k in ("file_path", "file_format", "file_sha256", "file_bytes", "artifact_state")}
        source.registry.set_file("rf", 2, {"file_path": "rf/v2.joblib", "file_format": "joblib",
                                           "file_sha256": "1" * 64, "artifact_state": "pending"})
        source.registry.record_event("rf", 2, "resave", {"previous": previous})
    first = migrate_registry(source, target)
    assert [f["ref"] for f in first["failed"]] == ["rf:2"] and "unfinished" in first["failed"][0]["reason"]
    assert ("rf", 2) not in rows_of(target)
    assert maintenance.repair(source, grace=0).refs("restored") == ["rf:2"]
    second = migrate_registry(source, target)
    assert second["ok"] and second["copied"] == ["rf:2"]
    assert target.get_model_metadata("rf:2")["file_sha256"] == previous["file_sha256"]


def _fail_publishing(monkeypatch, store, relpath):
    real = store.publish

    def flaky(staged):
        if staged.relpath == relpath:
            raise OSError("connection reset")
        real(staged)

    monkeypatch.setattr(store, "publish", flaky)


def test_an_unfinished_copy_takes_the_sources_current_file(source, target, monkeypatch, small_data):
    X, _ = small_data
    _fail_publishing(monkeypatch, target.store, "rf/v2.pkl")
    assert [f["ref"] for f in migrate_registry(source, target)["failed"]] == ["rf:2"]
    monkeypatch.undo()
    source.save_model("rf:2", save_format="joblib")  # the source changed meanwhile: another file
    again = migrate_registry(source, target)
    assert again["ok"] and again["resumed"] == ["rf:2"] and again["conflicts"] == []
    copied = target.get_model_metadata("rf:2")
    assert copied["file_sha256"] == source.get_model_metadata("rf:2")["file_sha256"]
    assert (copied["file_format"], copied["artifact_state"]) == ("joblib", "ready")
    np.testing.assert_array_equal(target.get_model("rf:2").predict(X), source.get_model("rf:2").predict(X))
    assert migrate_registry(source, target)["skipped"].count("rf:2") == 1  # settled: a re-run skips it


def test_an_unfinished_copy_of_a_version_the_source_cleared(source, target, monkeypatch):
    _fail_publishing(monkeypatch, target.store, "old/v2.joblib")
    migrate_registry(source, target)
    monkeypatch.undo()
    # the source's old:2 lost its file and repair cleared it: a version without a file now
    with source.registry.atomic():
        source.registry.set_file("old", 2, dict.fromkeys(
            ("file_path", "file_format", "file_sha256", "file_bytes", "artifact_state")))
        source.registry.set_status("old", 2, "trained")
    again = migrate_registry(source, target)
    assert again["ok"] and again["resumed"] == ["old:2"]
    row = target.get_model_metadata("old:2")
    assert (row["status"], row["file_path"], row["file_sha256"], row["artifact_state"]) == ("trained", None, None, None)
    assert migrate_registry(source, target)["ok"]


def test_a_pending_row_the_target_made_itself_is_a_conflict(source, target, small_data):
    X, y = small_data
    source.train_model(LogisticRegression, X, y, model_id="team", C=2.0)
    source.save_model()
    target.train_model(LogisticRegression, X, y, model_id="team", C=0.5)
    target.save_model()
    target.registry.set_file("team", 1, {"artifact_state": "pending"})  # a save of the team's running
    report = migrate_registry(source, target)
    assert [c["ref"] for c in report["conflicts"]] == ["team:1"]
    assert target.get_model_metadata("team:1")["artifact_state"] == "pending"

def test_rows_only(source, target):
    report = migrate_registry(source, target, copy_files=False)
    assert report["ok"] and report["files_copied"] == 0
    assert sorted(report["missing_files"]) == ["old:2", "rf:1", "rf:2"]
    assert rows_of(target) == rows_of(source) and not target.store.exists("rf/v1.joblib")


def test_copies_get_the_blake3_of_their_bytes_even_from_rows_saved_without_one(source, tmp_path):
    source.registry.update("rf", 1, {"file_blake3": None})  # saved before BLAKE3 was kept
    with ModelService(models_directory=tmp_path / "copy") as copy:
        assert migrate_registry(source, copy)["ok"]
        for ref in ("rf:1", "rf:2", "old:2"):
            row = copy.get_model_metadata(ref)
            data = (tmp_path / "copy" / row["relative_path"]).read_bytes()
            assert row["file_blake3"] == blake3.blake3(data).hexdigest(), ref


def test_sqlite_to_sqlite_without_services(source, tmp_path, small_data):
    X, _ = small_data
    with ModelService(models_directory=tmp_path / "copy") as copy:
        report = migrate_registry(source, copy)
        assert report["ok"] and sorted(report["copied"]) == ["draft:1", "old:2", "rf:1", "rf:2"]
        assert rows_of(copy) == rows_of(source)
        np.testing.assert_array_equal(copy.get_model("rf:2").predict(X), source.get_model("rf:2").predict(X))
        assert migrate_registry(source, copy)["copied"] == []


def test_same_registry_is_refused(source):
    with pytest.raises(InvalidInputError, match="same registry"):
        migrate_registry(source, source)

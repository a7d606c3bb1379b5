import json
import os

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidInputError,
    ModelNotFoundError,
    ModelService,
    ModelServiceWarning,
    NoModelError,
)


@pytest.fixture
def trained(service, iris):
    X, y = iris
    service.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=10, random_state=0)
    return service


@pytest.mark.parametrize("fmt, ext", [("joblib", "joblib"), ("pickle", "pkl"), ("skops", "skops")])
def test_save_and_reload_in_a_new_service(trained, iris, fmt, ext):
    X, _ = iris
    expected = trained.predict(X)
    assert trained.save_model("rf", save_format=fmt) is True
    folder = trained.store.root / "rf"
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"v1.{ext}", "v1.json"])
    row = trained.get_model_metadata("rf")
    assert row["status"] == "saved" and row["file_format"] == fmt and row["artifact_state"] == "ready"
    assert row["relative_path"] == f"rf/v1.{ext}" == os.path.relpath(row["file_path"], trained.store.root) and row["file_bytes"] == (folder / f"v1.{ext}").stat().st_size
    sidecar = json.loads((folder / "v1.json").read_text())
    assert sidecar["file_sha256"] == row["file_sha256"] and sidecar["status"] == "saved"

    fresh = ModelService(models_directory=trained.store.root)
    assert fresh.load_model("rf:1") is True
    np.testing.assert_array_equal(fresh.predict(X), expected)
    assert fresh.predict_proba(X[:3]).shape == (3, 3)
    assert fresh.current_ref == "rf:1"


def test_a_file_is_read_as_its_recorded_format_never_as_its_bytes_suggest(trained, iris):
    trained.save_model("rf", save_format="pickle")
    fresh = ModelService(models_directory=trained.store.root)
    fresh.registry.update("rf", 1, {"file_format": "skops"})  # a pickle recorded as skops
    with pytest.raises(ArtifactIntegrityError, match="registered as skops, but its bytes are a pickle"):
        fresh.load_model("rf")
    assert fresh.current_model is None


def test_tampered_file_is_refused_and_never_unpickled(trained, tmp_path):
    trained.save_model("rf")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    import pickle

    (trained.store.root / "rf" / "v1.joblib").write_bytes(pickle.dumps(Evil()))
    fresh = ModelService(models_directory=trained.store.root)
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        fresh.load_model("rf")
    assert not marker.exists()
    assert fresh.current_model is None


def test_truncated_and_missing_files(trained):
    trained.save_model("rf")
    path = trained.store.root / "rf" / "v1.joblib"
    path.write_bytes(path.read_bytes()[:100])
    fresh = ModelService(models_directory=trained.store.root)
    with pytest.raises(ArtifactIntegrityError):
        fresh.load_model("rf")
    path.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        fresh.load_model("rf")


def test_crash_during_publish_leaves_no_row_pointing_at_nothing(trained, monkeypatch):
    def boom(staged):
        raise OSError("disk full")

    monkeypatch.setattr(trained.store, "publish", boom)
    with pytest.raises(OSError, match="disk full"):
        trained.save_model("rf")
    row = trained.get_model_metadata("rf")
    assert row["file_path"] is None and row["status"] == "trained" and row["artifact_state"] is None
    assert list((trained.store.root / "rf").iterdir()) == []


def test_crash_during_serialization_leaves_nothing(trained, monkeypatch):
    from jupyter_modelservice.artifacts import formats

    def broken(obj, fh, fmt):
        fh.write(b"\x80partial")
        raise RuntimeError("serializer died")

    monkeypatch.setattr(formats, "dump", broken)
    with pytest.raises(RuntimeError):
        trained.save_model("rf")
    assert trained.get_model_metadata("rf")["file_path"] is None
    assert list((trained.store.root / "rf").iterdir()) == []


def test_resaving_in_another_format_replaces_the_file(trained):
    trained.save_model("rf")
    trained.save_model("rf", save_format="pickle")
    assert sorted(p.name for p in (trained.store.root / "rf").iterdir()) == ["v1.json", "v1.pkl"]
    assert trained.save_model("rf", save_format="pickle") is True  # already saved: nothing to do


def test_unsaved_versions_stay_loadable_in_the_session_only(service, iris):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="a", max_iter=500)
    service.train_model(LogisticRegression, X, y, model_id="b", max_iter=500)
    assert service.load_model("a") and service.current_ref == "a:1"
    fresh = ModelService(models_directory=service.store.root)
    with pytest.raises(NoModelError, match="never saved"):
        fresh.load_model("a")


def test_errors_for_unknown_refs_and_formats(trained):
    with pytest.raises(ModelNotFoundError):
        trained.load_model("nope")
    with pytest.raises(KeyError, match="no version 5"):
        trained.load_model("rf:5")
    with pytest.raises(InvalidInputError, match="save_format"):
        trained.save_model("rf", save_format="onnx")
    fresh = ModelService(models_directory=trained.store.root)
    with pytest.raises(NoModelError, match="No current model"):
        fresh.predict([[1, 2, 3, 4]])
    with pytest.raises(NoModelError):
        fresh.save_model()


def test_metadata_updates_status_tags_and_history(trained):
    trained.save_model("rf")
    trained.update_model_metadata("rf", {"status": "production", "tags": {"owner": "ana"}})
    trained.update_model_metadata("rf", {"tags": {"stage": "eu", "owner": None}})
    row = trained._get_model_metadata("rf")
    assert row["status"] == "production" and row["tags"] == {"stage": "eu"}
    assert json.loads((trained.store.root / "rf" / "v1.json").read_text())["status"] == "production"
    history = [(e["event"], e["to_status"]) for e in trained.model_history("rf")]
    assert history == [("registered", "trained"), ("save", "trained"), ("status", "saved"), ("status", "production")]
    with pytest.raises(InvalidInputError, match="only status, tags"):
        trained._update_model_metadata("rf", {"train_score": 1.0})
    with pytest.raises(InvalidInputError, match="Unknown status"):
        trained.update_model_metadata("rf", {"status": "live"})


def test_promoting_an_unsaved_model_warns(service, iris):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
    with pytest.warns(ModelServiceWarning, match="save_model"):
        service.update_model_metadata("lr", {"status": "production"})


def test_archive_and_delete(trained, iris):
    X, y = iris
    trained.save_model("rf")
    trained.train_model(RandomForestClassifier, X, y, model_id="rf", n_estimators=5)
    trained.save_model("rf")
    assert trained.archive_model("rf", version=1) == 1
    assert [r["status"] for r in trained.list_models(model_id="rf", order_by="version")] == ["archived", "saved"]
    assert trained.archive_model("rf") == 2
    assert trained.delete_model("rf:1") == 1
    assert sorted(os.listdir(trained.store.root / "rf")) == ["v2.joblib", "v2.json"]
    assert trained.delete_model("rf") == 1
    assert not (trained.store.root / "rf").exists()  # no empty folder left behind
    assert trained.current_model is None
    with pytest.raises(ModelNotFoundError):
        trained.get_model_metadata("rf")


def test_register_a_model_fitted_elsewhere(service, iris):
    X, y = iris
    fitted = LogisticRegression(max_iter=500).fit(X, y)
    result = service.register_model(fitted, "external", X=X, y=y)
    assert result["version"] == 1 and result["status"] == "trained"
    assert result["feature_count"] == 4 and result["task_type"] == "classification"
    assert service.save_model("external")
    fresh = ModelService(models_directory=service.store.root)
    fresh.load_model("external")
    np.testing.assert_array_equal(fresh.predict(X), fitted.predict(X))
    with pytest.raises(InvalidInputError, match="predict"):
        service.register_model(object(), "nothing")


@pytest.mark.parametrize("tags", ["t", ["a"], {1: "x"}, {"": 1}, {"k": object()}])
def test_bad_tags_are_refused_and_nothing_changes(trained, tags):
    before = trained.get_model_metadata("rf")
    with pytest.raises(InvalidInputError, match="[Tt]ag"):
        trained.update_model_metadata("rf", {"tags": tags})
    assert trained.get_model_metadata("rf")["tags"] == before["tags"]

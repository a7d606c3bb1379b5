"""What a bare id means to a service, and the file path its metadata gives."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService


@pytest.fixture
def two_sessions(tmp_path):
    a = ModelService(models_directory=tmp_path / "models")
    b = ModelService(models_directory=tmp_path / "models")
    yield a, b
    a.close()
    b.close()


def test_a_bare_id_means_the_version_this_session_trained(two_sessions, iris):
    a, b = two_sessions
    X, y = iris
    a.train_model(LogisticRegression, X, y, model_id="m", max_iter=500)
    b.train_model(LogisticRegression, X, y, model_id="m", max_iter=500, C=0.1)  # newer, unsaved elsewhere
    assert a.save_model("m") is True
    assert a.get_model_metadata("m")["version"] == 1
    assert a.evaluate_model(X, y, "m")["version"] == 1
    assert a.get_model_metadata("m")["status"] == "saved"
    assert b.get_model_metadata("m")["version"] == 2
    with ModelService(models_directory=a.store.root) as fresh:  # trained nothing: the latest
        assert fresh.get_model_metadata("m")["version"] == 2
    a.train_model(LogisticRegression, X, y, model_id="m", max_iter=500)
    assert a.get_model_metadata("m")["version"] == 3  # its newest own version
    assert a.get_model_metadata("m:2")["version"] == 2  # an explicit version is that version


def test_a_deleted_own_version_falls_back_to_the_latest(two_sessions, iris):
    a, b = two_sessions
    X, y = iris
    a.train_model(LogisticRegression, X, y, model_id="m", max_iter=500)
    a.save_model("m")
    b.train_model(LogisticRegression, X, y, model_id="m", max_iter=500)
    b.save_model("m")
    b.delete_model("m:1")
    assert a.get_model_metadata("m")["version"] == 2


def test_file_path_opens_the_file_from_the_callers_folder(tmp_path, iris, monkeypatch):
    X, y = iris
    monkeypatch.chdir(tmp_path)
    with ModelService(models_directory="models") as service:  # relative, as in a notebook
        service.train_model(LogisticRegression, X, y, model_id="rf", max_iter=500)
        service.save_model("rf")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        md = service.get_model_metadata("rf")
        rows = service.list_models()
        updated = service.update_model_metadata("rf", {"tags": {"k": "v"}})
        current = service.model_metadata
    for meta in (md, rows[0], updated, current):
        assert os.path.isabs(meta["file_path"]), meta["file_path"]
        assert meta["relative_path"] == "rf/v1.joblib"
        with open(meta["file_path"], "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == md["file_sha256"]
    # what is stored stays relative: the registry can be moved
    with ModelService(models_directory=tmp_path / "models") as service:
        assert service.registry.get("rf")["file_path"] == "rf/v1.joblib"
    sidecar = json.loads((tmp_path / "models" / "rf" / "v1.json").read_text())
    assert sidecar["file_path"] == "rf/v1.joblib"


def test_file_path_of_an_unsaved_version_is_none(service, iris):
    X, y = iris
    service.train_model(LogisticRegression, X, y, model_id="rf", max_iter=500)
    md = service.get_model_metadata("rf")
    assert md["file_path"] is None and md["relative_path"] is None

"""A named pipe, a folder or a device where a model file or sidecar should be is refused, never waited on;
a file where a model's folder should be is named.

Opening a FIFO for reading blocks until someone writes to it: before the fix,
``load_model`` and ``verify`` hung forever. Each test runs under a short
timeout so that a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os

import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ArtifactError, ArtifactIntegrityError, ModelService
from jupyter_modelservice.artifacts.local import LocalStore, open_regular
from jupyter_modelservice.maintenance import verify
from jupyter_modelservice.maintenance.files import file_digest

pytestmark = [pytest.mark.timeout(30),
              pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")]


def _replace(path, kind):
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()


@pytest.fixture
def saved(tmp_path, tiny_data):
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(LogisticRegression, X, y, model_id="rf")
        service.save_model()
    return tmp_path / "models"


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_load_refuses_a_non_regular_model_file(saved, kind):
    _replace(saved / "rf" / "v1.joblib", kind)
    with ModelService(models_directory=saved) as service, \
            pytest.raises(ArtifactError, match="not a regular file") as caught:
        service.load_model("rf")
    assert "v1.joblib" in str(caught.value)


@pytest.mark.parametrize("name", ["v1.joblib", "v1.json"])
def test_verify_reports_a_fifo_instead_of_hanging(saved, name):
    _replace(saved / "rf" / name, "fifo")
    with ModelService(models_directory=saved) as service:
        report = verify(service)
    assert not report.ok
    assert any("rf" in problem.message for problem in report.problems)


def test_store_reads_and_hashing_refuse_a_fifo(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / "rf").mkdir()
    os.mkfifo(tmp_path / "rf" / "v1.joblib")
    with pytest.raises(ArtifactIntegrityError, match="named pipe"):
        store.read_bytes("rf/v1.joblib")
    with pytest.raises(ArtifactIntegrityError, match="named pipe"):
        file_digest(store, "rf/v1.joblib")
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing")
    (tmp_path / "plain").write_bytes(b"abc")
    with open_regular(tmp_path / "plain") as fh:
        assert fh.read() == b"abc"



def test_a_file_where_the_model_folder_should_be_is_named_and_nothing_is_recorded(tmp_path, tiny_data):
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(LogisticRegression, X, y, model_id="gb")
        blocker = tmp_path / "models" / "gb"
        blocker.write_text("a note")
        with pytest.raises(ArtifactError, match="is a file, not a folder") as caught:
            service.save_model("gb")
        assert str(blocker) in str(caught.value) and "Move or rename it" in str(caught.value)
        assert service.get_model_metadata("gb")["artifact_state"] is None  # nothing half-recorded
        assert blocker.read_text() == "a note"
        blocker.unlink()
        service.save_model("gb")  # once it is moved, the save goes through
        assert service.get_model_metadata("gb")["artifact_state"] == "ready"

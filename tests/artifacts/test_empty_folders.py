"""Deleting a model's last version leaves no empty ``models/<id>/`` folder, and never breaks a save."""

from __future__ import annotations

from pathlib import Path

from jupyter_modelservice.artifacts import local
from jupyter_modelservice.artifacts.local import LocalStore


def _write(store: LocalStore, relpath: str, data: bytes = b"x") -> None:
    store.publish(store.stage(relpath, lambda fh: fh.write(data)))


def test_the_folder_goes_with_its_last_file(tmp_path):
    store = LocalStore(tmp_path)
    _write(store, "rf/v1.joblib")
    store.write_text("rf/v1.json", "{}")
    _write(store, "rf/v2.joblib")
    store.delete("rf/v1.joblib")
    store.delete("rf/v1.json")
    assert (tmp_path / "rf").is_dir()  # v2 is still there
    store.delete("rf/v2.joblib")
    assert not (tmp_path / "rf").exists()
    store.delete("rf/v2.joblib")  # deleting again is still fine
    assert tmp_path.is_dir()  # never the models directory itself


def test_a_save_whose_folder_is_removed_under_it_recreates_it(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    original = Path.mkdir
    removed = []

    def mkdir_then_lose_it(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.name == "rf" and not removed:  # another process deletes rf's last version right now
            removed.append(True)
            self.rmdir()

    monkeypatch.setattr(local.Path, "mkdir", mkdir_then_lose_it)
    _write(store, "rf/v1.joblib", b"model")
    assert removed and (tmp_path / "rf" / "v1.joblib").read_bytes() == b"model"


def test_deleting_the_last_version_through_the_service_removes_the_folder(service, iris):
    from sklearn.naive_bayes import GaussianNB

    for _ in range(2):
        service.train_model(GaussianNB, *iris, model_id="nb")
        service.save_model("nb")
    folder = Path(service.models_directory) / "nb"
    service.delete_model("nb:1")
    assert folder.is_dir()
    service.delete_model("nb:2")
    assert not folder.exists()

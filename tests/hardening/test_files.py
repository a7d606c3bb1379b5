"""A model file changed after saving is refused, and nothing in it ever runs.

Also: symlinks planted in the store never lead reads, writes or deletes
outside it (or into another model's files), and skops files load with an
explicit list of trusted types.
"""

from __future__ import annotations

import io
import pickle

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, normalize

from jupyter_modelservice import (
    ArtifactIntegrityError,
    InvalidInputError,
    ModelService,
    UntrustedTypesError,
)
from jupyter_modelservice.artifacts import formats

from .ballast import Planted

FORMATS = [("joblib", "joblib"), ("pickle", "pkl"), ("skops", "skops")]


class _Recording:
    """A file object passing on what a deserializer reads from ``stream`` and keeping a copy."""

    def __init__(self, stream, copy):
        self._stream, self._copy = stream, copy
        if hasattr(stream, "peek"):  # what the deserializer may call is what the stream offers
            self.peek = stream.peek

    def _keep(self, data):
        self._copy += data
        return data

    def read(self, size=-1):
        return self._keep(self._stream.read(size))

    def readline(self, size=-1):
        return self._keep(self._stream.readline(size))

    def readinto(self, target):
        n = self._stream.readinto(target)
        self._keep(bytes(memoryview(target)[:n]))
        return n


@pytest.fixture
def deserializers(monkeypatch):
    """The bytes each deserializer was given, whole or read from a stream (a refused file's
    bytes must never be among them)."""
    seen = []

    def spy(real):
        def wrapper(data, *args, **kwargs):
            if isinstance(data, io.BytesIO):
                seen.append(data.getvalue())
            elif hasattr(data, "read"):
                seen.append(bytearray())
                data = _Recording(data, seen[-1])
            else:
                seen.append(bytes(data))
            return real(data, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(pickle, "loads", spy(pickle.loads))
    monkeypatch.setattr(pickle, "load", spy(pickle.load))
    monkeypatch.setattr(joblib, "load", spy(joblib.load))
    monkeypatch.setattr(skops.io, "loads", spy(skops.io.loads))
    return seen


def _saved(tmp_path, tiny_data, fmt, n=2):
    X, y = tiny_data
    service = ModelService(models_directory=tmp_path / "models")
    for i in range(n):
        service.train_model(LogisticRegression, X, y, model_id="rf", C=1.0 + i)  # distinct bytes
        service.save_model("rf", save_format=fmt)
    service.close()
    return tmp_path / "models"


def _tampered(kind, data, other, marker):
    if kind == "planted pickle":
        return pickle.dumps(Planted(str(marker)))
    if kind == "planted joblib":
        buf = io.BytesIO()
        joblib.dump(Planted(str(marker)), buf)
        return buf.getvalue()
    if kind == "other version's file":
        return other
    if kind == "truncated":
        return data[: len(data) // 2]
    if kind == "one byte edited":
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
    if kind == "bytes appended":
        return data + pickle.dumps(Planted(str(marker)))
    if kind == "emptied":
        return b""
    raise AssertionError(kind)


KINDS = ["planted pickle", "planted joblib", "other version's file", "truncated", "one byte edited",
         "bytes appended", "emptied"]


@pytest.mark.parametrize("fmt, ext", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_changed_file_is_refused_before_anything_is_deserialized(tmp_path, tiny_data, deserializers,
                                                                   fmt, ext, kind):
    X, y = tiny_data
    models = _saved(tmp_path, tiny_data, fmt)
    path = models / "rf" / f"v1.{ext}"
    marker = tmp_path / "planted-code-ran"
    legit = (models / "rf" / f"v2.{ext}").read_bytes()
    planted = _tampered(kind, path.read_bytes(), legit, marker)
    path.write_bytes(planted)
    with ModelService(models_directory=models) as fresh:
        for call in (lambda: fresh.load_model("rf:1"), lambda: fresh.get_model("rf:1"),
                     lambda: fresh.evaluate_model(X, y, model_id="rf:1"),
                     lambda: fresh.compare_models(["rf:2", "rf:1"], X, y),
                     lambda: fresh.get_feature_importance(model_id="rf:1")):
            with pytest.raises(ArtifactIntegrityError, match="sha256") as info:
                call()
            assert "rf:1" in str(info.value) and "not loaded" in str(info.value)
        assert fresh.current_model is None
        assert fresh.get_model_metadata("rf:1")["metrics"] is None  # nothing recorded either
    assert not marker.exists()
    # rf:2 only (all of it, or what a reader took of a checked stream), rf:1 never
    assert deserializers and all(legit.startswith(data) for data in deserializers)


def test_a_planted_file_for_an_interrupted_save_is_refused(tmp_path, tiny_data):
    X, y = tiny_data
    models = tmp_path / "models"
    marker = tmp_path / "planted-code-ran"
    with ModelService(models_directory=models) as service:
        service.train_model(LogisticRegression, X, y, model_id="rf")
        service.save_model("rf")
        row = service.get_model_metadata("rf")
        service.registry.update("rf", 1, {"artifact_state": "pending"})  # as if killed before 'ready'
    (models / "rf" / "v1.joblib").write_bytes(pickle.dumps(Planted(str(marker))))
    with ModelService(models_directory=models) as fresh:
        with pytest.raises(ArtifactIntegrityError, match=row["file_sha256"]):
            fresh.load_model("rf")
    assert not marker.exists()


def test_a_symlink_to_a_file_outside_is_refused_even_with_the_right_bytes(tmp_path, tiny_data):
    models = _saved(tmp_path, tiny_data, "joblib", n=1)
    inside = models / "rf" / "v1.joblib"
    outside = tmp_path / "elsewhere.joblib"
    outside.write_bytes(inside.read_bytes())
    inside.unlink()
    inside.symlink_to(outside)
    with ModelService(models_directory=models) as fresh:
        with pytest.raises(ArtifactIntegrityError, match="outside the models directory"):
            fresh.load_model("rf")
        fresh.delete_model("rf")  # removes the link, not the file it points at
    assert outside.exists() and not inside.is_symlink()


def test_a_model_folder_linked_outside_is_refused_for_reads_and_writes(tmp_path, tiny_data):
    X, y = tiny_data
    models = _saved(tmp_path, tiny_data, "joblib", n=1)
    outside = tmp_path / "outside"
    (models / "rf").rename(outside)
    (models / "rf").symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.iterdir())
    with ModelService(models_directory=models) as fresh:
        with pytest.raises(ArtifactIntegrityError, match="outside the models directory"):
            fresh.load_model("rf")
        fresh.train_model(LogisticRegression, X, y, model_id="rf")
        with pytest.raises(ArtifactIntegrityError, match="symbolic link"):
            fresh.save_model("rf")
        assert fresh.get_model_metadata("rf:2")["file_path"] is None
    assert sorted(p.name for p in outside.iterdir()) == before


def test_planted_links_to_another_model_never_touch_its_files(tmp_path, tiny_data):
    X, y = tiny_data
    models = tmp_path / "models"
    with ModelService(models_directory=models) as service:
        service.train_model(LogisticRegression, X, y, model_id="victim")
        service.save_model("victim")
        victim = models / "victim" / "v1.joblib"
        victim_bytes = victim.read_bytes()
        service.train_model(LogisticRegression, X, y, model_id="rf", C=0.5)
        (models / "rf").mkdir()
        (models / "rf" / "v1.joblib").symlink_to(victim)  # planted before rf:1 is saved
        (models / "rf" / "v1.json").symlink_to(models / "victim" / "v1.json")
        service.save_model("rf")  # replaces the links themselves
        assert not (models / "rf" / "v1.joblib").is_symlink()
        (models / "rf" / "v1.joblib").unlink()
        (models / "rf" / "v1.joblib").symlink_to(victim)  # planted after saving
        service.delete_model("rf")  # removes the link, not the victim's file
        assert not (models / "rf" / "v1.joblib").exists()
        (models / "linked").symlink_to(models / "victim", target_is_directory=True)
        service.train_model(LogisticRegression, X, y, model_id="linked")
        with pytest.raises(ArtifactIntegrityError, match="symbolic link"):
            service.save_model("linked")
        assert victim.read_bytes() == victim_bytes
        assert service.load_model("victim")


class CustomScaler(FunctionTransformer):
    """A user-defined class: not trusted unless listed."""


def test_skops_loads_with_an_explicit_list_never_trusted_true(tmp_path, tiny_data, monkeypatch):
    X, y = tiny_data
    seen = []
    real = skops.io.loads

    def spy(data, trusted=None):
        seen.append(trusted)
        return real(data, trusted=trusted)

    monkeypatch.setattr(skops.io, "loads", spy)
    models = _saved(tmp_path, tiny_data, "skops", n=1)
    with ModelService(models_directory=models) as fresh:
        fresh.load_model("rf")
        model = fresh.current_model
        assert type(model).__name__ == "LogisticRegression" and model.C == 1.0 and len(fresh.predict(X)) == len(X)
    assert seen and all(isinstance(t, list) and all(isinstance(n, str) for n in t) for t in seen)


def test_an_untrusted_type_is_named_and_can_be_trusted_explicitly(tmp_path, tiny_data):
    X, y = tiny_data
    name = f"{__name__}.CustomScaler"
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(make_pipeline(CustomScaler(), LogisticRegression()), X, y, model_id="custom")
        service.save_model("custom", save_format="skops")
    with ModelService(models_directory=tmp_path / "models") as fresh:
        with pytest.raises(UntrustedTypesError) as info:
            fresh.load_model("custom")
        assert info.value.types == [name] and name in str(info.value) and "trusted=[" in str(info.value)
        with pytest.raises(InvalidInputError, match=r"\(trusted=True\) is not offered"):
            fresh.load_model("custom", trusted=True)
        assert fresh.load_model("custom", trusted=[name])
        assert fresh.get_model("custom", trusted=name) is not None  # one name as a string


def test_library_functions_are_not_trusted_by_module_prefix():
    for func, name in ((np.load, "numpy.load"), (normalize, "sklearn.preprocessing._data.normalize")):
        data = skops.io.dumps(FunctionTransformer(func))
        with pytest.raises(UntrustedTypesError) as info:
            formats.loads(data, "skops")
        assert info.value.types == [name]
        assert formats.loads(data, "skops", trusted=[name]).func is func

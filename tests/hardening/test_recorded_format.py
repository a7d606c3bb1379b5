"""A model file is read with the format the registry recorded, and pickle can be switched off.

Issue 10, item 3: the loader chose its reader from the bytes, so a pickle stored
under a ``.skops`` name and registered as skops (with its correct sha256) was
unpickled. Teams that never want pickle get ``allow_pickle=False`` /
``MODELSERVICE_ALLOW_PICKLE=0``.
"""

from __future__ import annotations

import io
import os
import pickle

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import (
    ArtifactIntegrityError,
    InvalidInputError,
    ModelService,
    PickleNotAllowedError,
    UntrustedTypesError,
)
from jupyter_modelservice.artifacts import formats
from jupyter_modelservice.artifacts.digests import Digests


class Payload:
    """Unpickling it creates the folder ``marker``: proof that a pickle reader ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _replace_file(models, model_id, data, suffix):
    """Put ``data`` in place of the saved file and record its digests, as an import would (so a load
    checks it chunk by chunk, and finds every byte as registered)."""
    path = models / model_id / f"v1.{suffix}"
    path.write_bytes(data)
    digests = Digests.of(data)
    with ModelService(models_directory=models) as admin:
        admin.registry.update(model_id, 1, {"file_sha256": digests.sha256, "file_bytes": len(data),
                                            "file_blake3": digests.blake3, "file_chunks": digests.chunks})


@pytest.fixture
def saved(tmp_path, tiny_data):
    """A models folder with m:1 saved as skops, joblib and pickle (ids ``skops``, ``joblib``, ``pickle``)."""
    X, y = tiny_data
    models = tmp_path / "models"
    with ModelService(models_directory=models) as service:
        for fmt in formats.FORMATS:
            service.train_model(LogisticRegression, X, y, model_id=fmt)
            service.save_model(fmt, save_format=fmt)
    return models


def test_a_pickle_registered_as_skops_is_refused_before_any_reader_runs(saved, tmp_path):
    marker = tmp_path / "unpickled"
    _replace_file(saved, "skops", pickle.dumps(Payload(marker)), "skops")
    with ModelService(models_directory=saved) as fresh:
        with pytest.raises(ArtifactIntegrityError,
                           match=r"The file of skops:1 \(skops/v1.skops\) is registered as skops.*pickle") as info:
            fresh.get_model("skops")
        assert not isinstance(info.value, UntrustedTypesError)
        with pytest.raises(ArtifactIntegrityError):
            fresh.load_model("skops", trusted=["builtins.object"])
    assert not marker.exists()


@pytest.mark.parametrize("recorded, suffix, foreign", [
    ("joblib", "joblib", "skops"),
    ("pickle", "pkl", "skops"),
    ("pickle", "pkl", "joblib"),
    ("skops", "skops", "joblib"),
])
def test_bytes_of_another_format_than_recorded_are_refused(saved, recorded, suffix, foreign):
    data = (saved / foreign / f"v1.{formats.EXTENSIONS[foreign]}").read_bytes()
    _replace_file(saved, recorded, data, suffix)
    with ModelService(models_directory=saved) as fresh:
        with pytest.raises(ArtifactIntegrityError, match=f"The file of {recorded}:1 .* is registered as {recorded}"):
            fresh.get_model(recorded)


def test_loads_takes_the_recorded_format_and_checks_the_bytes_first(tmp_path):
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(Payload(marker))
    with pytest.raises(TypeError):
        formats.loads(payload)  # the format is required: never guessed from the bytes
    for fmt in ("skops", None, "json"):
        with pytest.raises((ArtifactIntegrityError, InvalidInputError)):
            formats.loads(payload, fmt)
    assert not marker.exists()
    buf = io.BytesIO()
    joblib.dump(np.arange(3), buf, compress=3)
    assert formats.loads(buf.getvalue(), "joblib").tolist() == [0, 1, 2]
    with pytest.raises(ArtifactIntegrityError, match="registered as pickle"):
        formats.loads(buf.getvalue(), "pickle")
    assert formats.loads(skops.io.dumps([1, 2]), "skops") == [1, 2]


def test_without_pickle_joblib_and_pickle_files_are_refused_with_how_to_convert(saved, tmp_path):
    marker = tmp_path / "unpickled"
    _replace_file(saved, "pickle", pickle.dumps(Payload(marker)), "pkl")
    with ModelService(models_directory=saved, allow_pickle=False) as strict:
        for model_id in ("joblib", "pickle"):
            with pytest.raises(PickleNotAllowedError) as info:
                strict.get_model(model_id)
            message = str(info.value)
            assert f"save_model('{model_id}:1', save_format='skops')" in message
            assert "allow_pickle" in message
        assert strict.get_model("skops").predict(np.zeros((1, 3))).shape == (1,)
    assert not marker.exists()


def test_without_pickle_saving_in_a_pickle_format_is_refused(tmp_path, tiny_data):
    X, y = tiny_data
    models = tmp_path / "models"
    with ModelService(models_directory=models, allow_pickle=False) as strict:
        strict.train_model(LogisticRegression, X, y, model_id="m")
        for fmt in ("joblib", "pickle"):
            with pytest.raises(InvalidInputError, match="save_format='skops'"):
                strict.save_model("m", save_format=fmt)
        assert not list((models / "m").glob("v1.*"))
        assert strict.get_model_metadata("m")["status"] == "trained"
        assert strict.save_model("m", save_format="skops")
    with ModelService(models_directory=models, allow_pickle=False) as fresh:
        assert fresh.load_model("m")


def test_a_pickle_model_is_converted_where_pickle_is_allowed(saved):
    with ModelService(models_directory=saved) as permissive:
        permissive.save_model("joblib:1", save_format="skops")
    with ModelService(models_directory=saved, allow_pickle=False) as strict:
        assert strict.load_model("joblib")
        assert strict.model_metadata["file_format"] == "skops"


def test_the_environment_switches_pickle_off_and_an_explicit_argument_wins(saved, monkeypatch):
    monkeypatch.setenv("MODELSERVICE_ALLOW_PICKLE", "0")
    with ModelService(models_directory=saved) as strict:
        with pytest.raises(PickleNotAllowedError, match="MODELSERVICE_ALLOW_PICKLE"):
            strict.get_model("joblib")
    with ModelService(models_directory=saved, allow_pickle=True) as permissive:
        assert permissive.get_model("joblib") is not None
    monkeypatch.setenv("MODELSERVICE_ALLOW_PICKLE", "perhaps")
    with pytest.raises(InvalidInputError, match="MODELSERVICE_ALLOW_PICKLE"):
        ModelService(models_directory=saved)

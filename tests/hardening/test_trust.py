"""The registry database is the root of trust: sidecars and archives are never believed on their word.

The attack of issue 10: someone who can write into the models folder (a shared
drive) but not into the team's database plants ``rf/v2.pkl`` (a pickle whose
loading makes a marker folder) and a forged ``rf/v2.json`` (its own sha256,
``status: production``). No command may unpickle it before a person said so.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sqlite3
import zipfile

import blake3
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import (
    ArtifactIntegrityError,
    ModelService,
    ModelServiceError,
    UnverifiedModelError,
    maintenance,
)
from jupyter_modelservice.artifacts.digests import Digests
from jupyter_modelservice.cli import main
from jupyter_modelservice.registry.schema import SCHEMA_VERSION
from tests.old_schema import downgrade


def _imported(report):
    """The one version an import added, as ``{"ref", **details}``."""
    [found] = report.of("imported")
    return {**found.details, "ref": found.ref}



class Payload:
    """Unpickling it creates the folder ``marker``: proof that the file was deserialized."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digests(data: bytes) -> dict[str, str]:
    """Every digest a forger puts in a sidecar to match a planted file."""
    return {"file_sha256": _sha(data), "file_blake3": _blake3(data), "file_chunks": Digests.of(data).chunks}


def _blake3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@pytest.fixture
def team(tmp_path, tiny_data):
    """The team setup: the database outside the models folder, rf:1 saved there."""
    X, y = tiny_data
    (tmp_path / "db").mkdir()
    url = "sqlite:///" + str(tmp_path / "db" / "registry.db")
    with ModelService(models_directory=tmp_path / "models", db_url=url) as trainer:
        trainer.train_model(LogisticRegression, X, y, model_id="rf")
        trainer.save_model("rf")
    service = ModelService(models_directory=tmp_path / "models", db_url=url)  # holds no model in memory
    yield service
    service.close()


def _new_database(tmp_path, name="new", **options):
    """A service on the same models folder with an empty database: as after losing the database."""
    return ModelService(models_directory=tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'db' / name}.db",
                        **options)


def _plant(models, marker, model_id="rf", version=2, status="production"):
    """The attacker's files: a payload pickle and a sidecar copied from a real one, with its own hash."""
    payload = pickle.dumps(Payload(marker))
    (models / model_id).mkdir(exist_ok=True)
    (models / model_id / f"v{version}.pkl").write_bytes(payload)
    genuine = json.loads((models / "rf" / "v1.json").read_text())
    genuine.update(model_id=model_id, version=version, file_path=f"{model_id}/v{version}.pkl",
                   file_format="pickle", **_digests(payload),
                   file_bytes=len(payload), status=status, trust="verified")
    (models / model_id / f"v{version}.json").write_text(json.dumps(genuine))
    return payload


def test_a_planted_file_and_forged_sidecar_are_never_loaded_before_a_person_trusts_them(team, tmp_path,
                                                                                        tiny_data):
    X, y = tiny_data
    models, marker = tmp_path / "models", tmp_path / "pwned"
    payload = _plant(models, marker)

    found = maintenance.verify(team, grace=0)
    assert found.kinds() == {"orphan_file": 1, "orphan_sidecar": 1}
    advice = " ".join(p.to_dict()["advice"] for p in found.problems)
    assert "unverified" in advice and not marker.exists()

    report = maintenance.rebuild_index(team)
    assert report.refs("added") == ["rf:2"] and report.refs("unverified") == ["rf:2"]
    row = team.registry.get("rf", 2)
    assert row["trust"] == "unverified" and row["status"] == "saved"  # never production on its word
    event = team.model_history("rf", 2)[0]
    assert event["event"] == "restored" and event["details"]["claimed_status"] == "production"

    attempts = {
        "load_model": lambda: team.load_model("rf"),
        "get_model": lambda: team.get_model("rf:2"),
        "evaluate_model": lambda: team.evaluate_model(X, y, model_id="rf:2"),
        "compare_models": lambda: team.compare_models(["rf:1", "rf:2"], X, y),
        "get_feature_importance": lambda: team.get_feature_importance(model_id="rf:2"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(UnverifiedModelError) as info:
            attempt()
        message = str(info.value)
        assert "rf:2" in message and _sha(payload) in message and "rebuild-index" in message, name
        assert "modelservice trust rf:2" in message and "trust_unverified=True" in message, name
        assert not marker.exists(), name
    assert isinstance(info.value, ArtifactIntegrityError) and isinstance(info.value, ModelServiceError)

    found = maintenance.verify(team, grace=0)
    assert found.kinds() == {"unverified": 1} and "modelservice trust rf:2" in found.problems[0].to_dict()["advice"]
    assert not marker.exists()
    with ModelService(models_directory=models, db_url=team.registry.url) as other:  # a new session too
        with pytest.raises(UnverifiedModelError):
            other.load_model("rf")
    assert not marker.exists()


def test_a_person_confirms_a_restored_version_and_the_history_says_who(team, tmp_path, tiny_data):
    X, _ = tiny_data
    models = tmp_path / "models"
    expected = team.get_model("rf").predict(X)
    with _new_database(tmp_path) as fresh:  # the database was lost; the file and sidecar stay
        assert maintenance.rebuild_index(fresh).refs("unverified") == ["rf:1"]
        with pytest.raises(UnverifiedModelError, match="restored by rebuild-index"):
            fresh.load_model("rf")
        assert fresh.load_model("rf", trust_unverified=True)  # once, without marking it
        np.testing.assert_array_equal(fresh.predict(X), expected)
        assert fresh.registry.get("rf", 1)["trust"] == "unverified"
        with ModelService(models_directory=models, db_url=fresh.registry.url) as other:
            with pytest.raises(UnverifiedModelError):
                other.get_model("rf:1")  # trust_unverified=True was for that one load only
        row = fresh.trust("rf:1")
        assert row["trust"] == "verified"
        event = fresh.model_history("rf", 1)[-1]
        assert event["event"] == "trusted" and event["actor"] and event["details"]["sha256"] == row["file_sha256"]
        with ModelService(models_directory=models, db_url=fresh.registry.url) as other:
            np.testing.assert_array_equal(other.get_model("rf:1").predict(X), expected)
        assert maintenance.verify(fresh, grace=0).ok
    assert "trust" not in json.loads((models / "rf" / "v1.json").read_text())  # never a claim in a sidecar


def test_trust_refuses_a_file_changed_after_it_was_restored(team, tmp_path):
    models = tmp_path / "models"
    with _new_database(tmp_path) as fresh:
        maintenance.rebuild_index(fresh)
        (models / "rf" / "v1.joblib").write_bytes(b"\x80 changed meanwhile")
        with pytest.raises(ArtifactIntegrityError, match="sha256"):
            fresh.trust("rf:1")
        assert fresh.registry.get("rf", 1)["trust"] == "unverified"


def test_cli_trust_shows_what_it_is_then_marks_it(team, tmp_path, capsys):
    models, marker = tmp_path / "models", tmp_path / "pwned"
    payload = _plant(models, marker)
    maintenance.rebuild_index(team)
    argv = ["--dir", str(models), "--db-url", team.registry.url]
    assert main([*argv, "verify"]) == 1
    out = capsys.readouterr().out
    assert "unverified: rf:2" in out and "modelservice trust rf:2" in out
    assert main([*argv, "trust", "rf:2"]) == 1  # no terminal to ask: nothing changes without --yes
    captured = capsys.readouterr()
    assert _sha(payload) in captured.out and "restored" in captured.out and "production" in captured.out
    assert "--yes" in captured.err and team.registry.get("rf", 2)["trust"] == "unverified"
    assert main([*argv, "trust", "rf:2", "--yes"]) == 0
    assert "rf:2 is now trusted" in capsys.readouterr().out
    assert team.registry.get("rf", 2)["trust"] == "verified"
    assert not marker.exists()  # trusting reads the metadata and hashes the file; it loads nothing


def test_repair_never_restores_a_previous_file_from_a_swapped_sidecar_as_trusted(team, tmp_path):
    models, marker = tmp_path / "models", tmp_path / "pwned"
    # a re-save of rf:1 as pickle was interrupted before the rename: the row is pending ...
    team.registry.update("rf", 1, {"file_path": "rf/v1.pkl", "file_format": "pickle",
                                   "file_sha256": "1" * 64, "artifact_state": "pending"})
    # ... and the attacker swaps the previous file and its sidecar
    payload = pickle.dumps(Payload(marker))
    (models / "rf" / "v1.joblib").write_bytes(payload)
    sidecar = json.loads((models / "rf" / "v1.json").read_text())
    sidecar.update(**_digests(payload), file_bytes=len(payload),
                   status="production")
    (models / "rf" / "v1.json").write_text(json.dumps(sidecar))

    repaired = maintenance.repair(team, grace=0)
    assert [f.message for f in repaired.of("restored")] == ["rf:1: previous file rf/v1.joblib restored, unverified"]
    row = team.registry.get("rf", 1)
    assert row["trust"] == "unverified" and row["status"] == "saved"
    with pytest.raises(UnverifiedModelError, match="verify --repair"):
        team.load_model("rf")
    assert maintenance.verify(team, grace=0).kinds() == {"unverified": 1}
    assert not marker.exists()


def test_repair_restores_a_recorded_previous_file(team, tmp_path, tiny_data):
    X, _ = tiny_data
    models = tmp_path / "models"
    before = team.registry.get("rf", 1)
    original = (models / "rf" / "v1.joblib").read_bytes()
    expected = team.get_model("rf").predict(X)
    team.save_model("rf", save_format="pickle")  # a re-save records the file it replaces ...
    events = [e for e in team.model_history("rf", 1) if e["event"] == "resave"]
    assert events and events[-1]["details"]["previous"]["file_sha256"] == before["file_sha256"]
    # ... so that when it is killed after the row went pending and before the rename, repair
    # can put back the previous file on the database's word (here: the old file is still there)
    (models / "rf" / "v1.joblib").write_bytes(original)
    (models / "rf" / "v1.pkl").unlink()
    with team.registry.atomic():
        team.registry.set_file("rf", 1, {"file_path": "rf/v1.pkl", "file_format": "pickle", "file_sha256": "2" * 64,
                                         "artifact_state": "pending"})
        team.registry.record_event("rf", 1, "resave", {"previous": {k: before[k] for k in (
            "file_path", "file_format", "file_sha256", "file_bytes")}})
    repaired = maintenance.repair(team, grace=0)
    assert [f.message for f in repaired.of("restored")] == ["rf:1: previous file rf/v1.joblib restored"]
    row = team.registry.get("rf", 1)
    assert row["trust"] is None and row["file_sha256"] == before["file_sha256"]
    np.testing.assert_array_equal(team.get_model("rf:1").predict(X), expected)
    assert maintenance.verify(team, grace=0).ok


# -- archives --------------------------------------------------------------------------
def _forge(archive, dest, payload):
    """An archive whose model file was replaced, with manifest and metadata rewritten to match."""
    with zipfile.ZipFile(archive) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    manifest, metadata = json.loads(entries.pop("manifest.json")), json.loads(entries.pop("metadata.json"))
    entries.pop(manifest["file"])
    manifest.update(file="model.pkl", file_format="pickle", sha256=_sha(payload), bytes=len(payload))
    metadata.update(file_format="pickle", file_sha256=_sha(payload), file_bytes=len(payload), trust="verified")
    with zipfile.ZipFile(dest, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("model.pkl", payload)
    return dest


def test_an_imported_version_is_unverified_until_trusted(team, tmp_path, tiny_data):
    X, _ = tiny_data
    marker = tmp_path / "pwned"
    maintenance.export_version(team, "rf", tmp_path / "rf.zip")
    forged = _forge(tmp_path / "rf.zip", tmp_path / "forged.zip", pickle.dumps(Payload(marker)))
    with ModelService(models_directory=tmp_path / "target") as target:
        result = _imported(maintenance.import_version(target, forged))
        assert result["trust"] == "unverified"
        with pytest.raises(UnverifiedModelError, match="imported from forged.zip"):
            target.load_model(result["ref"])
        assert not marker.exists()
        genuine = _imported(maintenance.import_version(target, tmp_path / "rf.zip", model_id="rf_copy"))
        with pytest.raises(UnverifiedModelError):
            target.get_model("rf_copy")
        target.trust("rf_copy")
        np.testing.assert_array_equal(target.get_model("rf_copy").predict(X), team.get_model("rf").predict(X))
        assert genuine["trust"] == "unverified"
    assert not marker.exists()


# -- the optional team signing key ------------------------------------------------------
def test_a_team_signing_key_lets_rebuild_and_import_trust_what_the_team_signed(tmp_path, tiny_data, monkeypatch):
    X, y = tiny_data
    monkeypatch.setenv("MODELSERVICE_SIGNING_KEY", "team secret")
    models, marker = tmp_path / "models", tmp_path / "pwned"
    (tmp_path / "db").mkdir()
    url = "sqlite:///" + str(tmp_path / "db" / "registry.db")
    with ModelService(models_directory=models, db_url=url) as trainer:
        trainer.train_model(LogisticRegression, X, y, model_id="rf")
        trainer.save_model("rf")
    with ModelService(models_directory=models, db_url=url) as service:
        signed = json.loads((models / "rf" / "v1.json").read_text())
        assert signed["signature"]["alg"] == "hmac-sha256"
        maintenance.export_version(service, "rf", tmp_path / "rf.zip")
        _plant(models, marker)  # copies rf:1's signature, which does not cover its own hash
    with _new_database(tmp_path, "lost") as service:
        report = maintenance.rebuild_index(service)
        assert sorted(report.refs("added")) == ["rf:1", "rf:2"] and report.refs("unverified") == ["rf:2"]
        assert service.registry.get("rf", 1)["trust"] == "verified" and service.load_model("rf:1")
        with pytest.raises(UnverifiedModelError, match="signature"):
            service.load_model("rf:2")
        with ModelService(models_directory=tmp_path / "target") as target:
            assert _imported(maintenance.import_version(target, tmp_path / "rf.zip"))["trust"] == "verified"
            assert target.load_model("rf")
            forged = _forge(tmp_path / "rf.zip", tmp_path / "forged.zip", pickle.dumps(Payload(marker)))
            assert _imported(maintenance.import_version(target, forged, model_id="evil"))["trust"] == "unverified"
            with pytest.raises(UnverifiedModelError):
                target.load_model("evil")
    monkeypatch.setenv("MODELSERVICE_SIGNING_KEY", "another team")
    with _new_database(tmp_path, "lost again") as service:
        assert maintenance.rebuild_index(service).refs("unverified") == ["rf:1", "rf:2"]  # a key it cannot check
        assert service.model_history("rf", 1)[0]["details"]["signature"] == "another key"
    assert not marker.exists()


# -- schema version 2: the trust column --------------------------------------------------
def test_a_version_1_registry_is_upgraded_and_its_versions_stay_trusted(tmp_path, tiny_data):
    X, y = tiny_data
    models = tmp_path / "models"
    (tmp_path / "db").mkdir()
    with ModelService(models_directory=models, probe_rows=None) as service:  # version 1 kept no probe
        service.train_model(LogisticRegression, X, y, model_id="rf")
        service.save_model("rf")
        expected = service.get_model("rf").predict(X)
        with _new_database(tmp_path, "elsewhere", probe_rows=None) as elsewhere:  # a version this registry never saved
            elsewhere.train_model(LogisticRegression, X, y, model_id="lost")
            elsewhere.save_model("lost")
        maintenance.rebuild_index(service)  # "lost" comes in from its sidecar
    with sqlite3.connect(models / "registry.db") as con:  # back to what version 1 wrote
        downgrade(con, 1)
    con.close()
    for path in models.glob("*/v*.json"):  # nor did its sidecars carry the faster digests
        sidecar = json.loads(path.read_text())
        del sidecar["file_blake3"], sidecar["file_chunks"]
        path.write_text(json.dumps(sidecar))
    with ModelService(models_directory=models) as upgraded:
        assert upgraded.registry.schema_version() == SCHEMA_VERSION  # every step from 1 ran
        assert upgraded.registry.get("rf", 1)["trust"] is None
        np.testing.assert_array_equal(upgraded.get_model("rf").predict(X), expected)
        # a version an earlier package restored from a sidecar is unverified now
        assert upgraded.registry.get("lost", 1)["trust"] == "unverified"
        with pytest.raises(UnverifiedModelError):
            upgraded.get_model("lost")
        assert maintenance.verify(upgraded, grace=0).kinds() == {"unverified": 1}

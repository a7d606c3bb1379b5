"""`ModelFiles` pinned: the save protocol's events and compare-and-set, the database store's single
transaction, missing and damaged files, and the behaviour probe under other library versions."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import warnings

import blake3
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from jupyter_modelservice import (
    ArtifactError,
    ArtifactIntegrityError,
    EnvironmentMismatchWarning,
    InvalidInputError,
    ModelService,
    provenance,
)
from jupyter_modelservice.artifacts import formats
from jupyter_modelservice.exceptions import UntrustedTypesError, UnverifiedModelError
from jupyter_modelservice.ids import ModelVersion
from jupyter_modelservice.model_files import ENV_ALLOW_PICKLE, FILE_COLUMNS, SAVE_STARTED, pickle_allowed
from jupyter_modelservice.trust import UNVERIFIED

LR1 = ModelVersion("lr", 1)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _train(service, X, y, n=1):
    for c in (0.01, 100.0, 1.0)[:n]:
        service.train_model(LogisticRegression, X, y, model_id="lr", C=c, max_iter=2000)


def _events(registry, ref, kind):
    return [e for e in registry.events(ref.model_id, ref.version) if e["event"] == kind]


def _spy_saves(service, monkeypatch):
    """The rows `ModelFiles.save` of ``service`` returns, as it returns them."""
    rows = []
    real = service.files.save

    def spy(*args, **kwargs):
        rows.append(real(*args, **kwargs))
        return rows[-1]

    monkeypatch.setattr(service.files, "save", spy)
    return rows


@pytest.fixture
def saved_returns(service, monkeypatch):
    return _spy_saves(service, monkeypatch)


# -- the save protocol (file store) ----------------------------------------------------------------

def test_a_first_save_records_its_path_and_sha256_and_a_resave_the_previous_file(service, iris):
    X, y = iris
    _train(service, X, y)
    service.save_model("lr")
    first = service.registry.get("lr", 1)
    data = (service.store.root / "lr" / "v1.joblib").read_bytes()
    assert first["file_sha256"] == _sha(data)
    (started,) = _events(service.registry, LR1, SAVE_STARTED)
    assert started["details"] == {"path": "lr/v1.joblib", "sha256": _sha(data)}
    assert _events(service.registry, LR1, "resave") == []

    service.save_model("lr", save_format="pickle")
    (resave,) = _events(service.registry, LR1, "resave")
    # the previous file columns except its chunk digests (only a load uses them; a put-back file keeps its BLAKE3)
    assert resave["details"] == {"previous": {k: first[k] for k in FILE_COLUMNS if k != "file_chunks"}}
    assert len(_events(service.registry, LR1, SAVE_STARTED)) == 1  # a resave is dated by its own event
    new = (service.store.root / "lr" / "v1.pkl").read_bytes()
    row = service.registry.get("lr", 1)
    assert (row["file_path"], row["file_sha256"], row["artifact_state"]) == ("lr/v1.pkl", _sha(new), "ready")
    assert not (service.store.root / "lr" / "v1.joblib").exists()  # the replaced file is removed


def test_a_save_over_a_vanished_file_of_the_same_path_keeps_the_new_file(service, iris):
    X, y = iris
    _train(service, X, y)
    service.save_model("lr")
    path = service.store.root / "lr" / "v1.joblib"
    path.unlink()
    service.save_model("lr")  # the row is ready but its file is gone: written again, same path
    row = service.registry.get("lr", 1)
    assert path.exists() and _sha(path.read_bytes()) == row["file_sha256"]
    assert row["artifact_state"] == "ready"


def test_saving_an_older_version_returns_and_marks_that_version(service, iris, saved_returns):
    X, y = iris
    _train(service, X, y, n=2)
    service.save_model("lr", version=1)
    (returned,) = saved_returns
    assert (returned["model_id"], returned["version"]) == ("lr", 1)
    data = (service.store.root / "lr" / "v1.joblib").read_bytes()
    assert (returned["artifact_state"], returned["status"], returned["file_sha256"]) == ("ready", "saved", _sha(data))
    other = service.registry.get("lr", 2)
    assert (other["artifact_state"], other["status"], other["file_path"]) == (None, "trained", None)


def _interfere(service, monkeypatch, change):
    """After the new file is published and before the save marks it ready, ``change(row)`` runs (another
    process)."""
    real = service.store.publish

    def publish(staged):
        real(staged)
        change(service.registry.get("lr", 1))

    monkeypatch.setattr(service.store, "publish", publish)


def test_a_save_whose_pending_row_was_marked_ready_elsewhere_completes(service, iris, monkeypatch, saved_returns):
    X, y = iris
    _train(service, X, y, n=2)
    _interfere(service, monkeypatch, lambda row: service.registry.set_file("lr", 1, {"artifact_state": "ready"}))
    service.save_model("lr", version=1)
    (returned,) = saved_returns
    data = (service.store.root / "lr" / "v1.joblib").read_bytes()
    assert (returned["version"], returned["artifact_state"], returned["file_path"], returned["file_sha256"]) == \
        (1, "ready", "lr/v1.joblib", _sha(data))


def test_a_save_whose_pending_row_was_cleared_elsewhere_is_overtaken(service, iris, monkeypatch):
    X, y = iris
    _train(service, X, y)
    _interfere(service, monkeypatch, lambda row: service.registry.set_file(
        "lr", 1, {"artifact_state": None, "file_path": None, "file_sha256": None}))
    expected = (
        "The save of lr:1 was overtaken: while it wrote lr/v1.joblib, another process changed the "
        "version's file record (now None, None), e.g. `modelservice verify --repair` cleared it as an "
        "interrupted save. The registry does not point at the new file; call save_model('lr:1') again."
    )
    with pytest.raises(ArtifactError, match=f"^{re.escape(expected)}$"):
        service.save_model("lr")
    assert service.registry.get("lr", 1)["file_path"] is None


def test_a_pickle_save_refused_by_policy_names_the_skops_call(tmp_path, iris):
    X, y = iris
    with ModelService(models_directory=tmp_path / "m", allow_pickle=False) as service:
        _train(service, X, y)
        with pytest.raises(InvalidInputError, match=re.escape("save_model('lr:1', save_format='skops').")):
            service.save_model("lr", save_format="joblib")


# -- the database store: one transaction ------------------------------------------------------------

@pytest.fixture
def db_service(tmp_path):
    svc = ModelService(db_url=f"sqlite:///{tmp_path / 'registry.db'}", models_directory="db://")
    yield svc
    svc.close()


def test_a_database_store_save_registers_stores_and_marks_ready_together(db_service, iris, monkeypatch):
    saved_returns = _spy_saves(db_service, monkeypatch)
    X, y = iris
    _train(db_service, X, y, n=2)
    db_service.save_model("lr", version=1)
    (returned,) = saved_returns
    data = db_service.registry.model_bytes("lr", 1, "lr/v1.joblib")
    assert data is not None and db_service.store.read_bytes("lr/v1.joblib") == data
    row = db_service.registry.get("lr", 1)
    assert returned == row
    assert (row["version"], row["artifact_state"], row["status"], row["file_path"], row["file_format"]) == \
        (1, "ready", "saved", "lr/v1.joblib", "joblib")
    assert (row["file_sha256"], row["file_blake3"], row["file_bytes"]) == \
        (_sha(data), blake3.blake3(data).hexdigest(), len(data))
    # the behaviour probe's predictions, written in the same transaction, are those of the stored model
    model = formats.loads(data, "joblib")
    assert row["probe"]["predict"] == model.predict(row["probe"]["rows"]).tolist()
    (started,) = _events(db_service.registry, LR1, SAVE_STARTED)
    assert started["details"] == {"path": "lr/v1.joblib", "sha256": _sha(data)}
    assert db_service.registry.get("lr", 2)["artifact_state"] is None


def test_a_database_store_publish_with_ready_returns_the_row_of_its_version(db_service, iris):
    X, y = iris
    _train(db_service, X, y, n=2)
    model = LogisticRegression(max_iter=2000).fit(X, y)
    staged = db_service.store.stage("lr/v1.joblib", lambda fh: formats.dump(model, fh, "joblib"))
    db_service.registry.set_file("lr", 1, {"file_path": "lr/v1.joblib", "file_format": "joblib",
                                           "file_sha256": staged.sha256, "artifact_state": "pending"})
    called = []

    def ready():
        called.append(1)
        db_service.registry.set_file("lr", 1, {"artifact_state": "ready"})

    row = db_service.files.publish(LR1, staged, ready=ready)
    assert called == [1]
    assert (row["model_id"], row["version"], row["artifact_state"], row["status"]) == ("lr", 1, "ready", "trained")
    assert _sha(db_service.registry.model_bytes("lr", 1, "lr/v1.joblib")) == staged.sha256


def test_a_read_back_that_differs_stores_nothing_and_says_so(db_service, iris, monkeypatch):
    X, y = iris
    _train(db_service, X, y)
    model = LogisticRegression(max_iter=2000).fit(X, y)
    staged = db_service.store.stage("lr/v1.joblib", lambda fh: formats.dump(model, fh, "joblib"))
    db_service.registry.set_file("lr", 1, {"file_path": "lr/v1.joblib", "file_format": "joblib",
                                           "file_sha256": staged.sha256, "artifact_state": "pending"})
    monkeypatch.setattr(db_service.store, "read_bytes", lambda relpath: b"damaged")
    expected = f"db://lr/v1.joblib reads back with sha256 {_sha(b'damaged')}, not {staged.sha256} as written"
    with pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(expected)}$"):
        db_service.files.publish(LR1, staged, read_back=True)
    monkeypatch.undo()
    assert db_service.registry.model_bytes("lr", 1, "lr/v1.joblib") is None
    assert db_service.registry.get("lr", 1)["artifact_state"] == "pending"


def test_a_file_store_publish_puts_the_file_in_place_and_reads_back_only_when_asked(service, iris, monkeypatch):
    X, y = iris
    _train(service, X, y)
    model = LogisticRegression(max_iter=2000).fit(X, y)
    reads = []
    real_read = service.store.read_bytes
    monkeypatch.setattr(service.store, "read_bytes", lambda relpath: reads.append(relpath) or real_read(relpath))
    for relpath, options in (("lr/v1.joblib", {}), ("lr/v1.pkl", {"read_back": True})):
        staged = service.store.stage(relpath, lambda fh: formats.dump(model, fh, "joblib"))
        assert service.files.publish(LR1, staged, **options) is None
        assert _sha((service.store.root / relpath).read_bytes()) == staged.sha256
    assert reads == ["lr/v1.pkl"]
    assert service.registry.get("lr", 1)["artifact_state"] is None  # the caller marks it ready


# -- reading: missing files, digests, formats, trust -------------------------------------------------

@pytest.fixture
def saved(service, iris):
    X, y = iris
    _train(service, X, y)
    service.save_model("lr")
    return service


def test_a_missing_file_says_whether_its_save_never_completed_or_it_was_removed(saved):
    row = saved.registry.get("lr", 1)
    (saved.store.root / "lr" / "v1.joblib").unlink()
    for state, said in (("ready", "it was removed"), ("pending", "its save never completed")):
        expected = (f"The file of lr:1 (lr/v1.joblib) is missing: {said}. "
                    "Save the model again or delete this version.")
        with pytest.raises(ArtifactError, match=f"^{re.escape(expected)}$"):
            saved.files.read_bytes(LR1, {**row, "artifact_state": state})


def test_a_digest_mismatch_names_what_was_found(saved):
    row = saved.registry.get("lr", 1)
    data = (saved.store.root / "lr" / "v1.joblib").read_bytes()
    wrong_blake3 = "0" * 64
    assert blake3.blake3(data).hexdigest() != wrong_blake3
    expected = (f"The file of lr:1 (lr/v1.joblib) does not match the digest registered when it was saved "
                f"(sha256 expected {_sha(data)}, its BLAKE3 is not the registered {wrong_blake3}); it was "
                "changed or damaged after saving and was not loaded.")
    with pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(expected)}$"):
        saved.files.read_bytes(LR1, {**row, "file_blake3": wrong_blake3})
    wrong_sha = "f" * 64
    expected = (f"The file of lr:1 (lr/v1.joblib) does not match the digest registered when it was saved "
                f"(sha256 expected {wrong_sha}, found {_sha(data)}); it was "
                "changed or damaged after saving and was not loaded.")
    with pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(expected)}$"):
        saved.files.read_bytes(LR1, {**row, "file_sha256": wrong_sha, "file_blake3": None})
    assert saved.files.read_bytes(LR1, row) == data


def test_bytes_of_another_format_are_named_by_the_version_and_path(saved):
    row = saved.registry.get("lr", 1)
    with pytest.raises(ArtifactIntegrityError, match=r"^The file of lr:1 \(lr/v1\.joblib\) is registered as skops"):
        saved.files.read(LR1, {**row, "file_format": "skops"})


def test_read_refuses_an_unverified_version_unless_told(saved):
    row = {**saved.registry.get("lr", 1), "trust": UNVERIFIED}
    with pytest.raises(UnverifiedModelError, match=r"^lr:1 is unverified"):
        saved.files.read(LR1, row)
    assert saved.files.read(LR1, row, trust_unverified=True).C == 0.01


def test_loading_a_removed_file_names_the_version_and_its_path(saved):
    assert saved.registry.get("lr", 1)["file_chunks"]  # a file store with chunk digests: read as it is checked
    (saved.store.root / "lr" / "v1.joblib").unlink()
    expected = "The file of lr:1 (lr/v1.joblib) is missing: it was removed. Save the model again or delete this version."
    with _fresh(saved) as later, pytest.raises(ArtifactError, match=f"^{re.escape(expected)}$"):
        later.load_model("lr:1")


def test_chunk_digests_at_odds_with_a_file_that_matches_its_sha256_are_reported_as_inconsistent(saved):
    record = json.loads(saved.registry.get("lr", 1)["file_chunks"])
    record["blake3"] = ["0" * 64 for _ in record["blake3"]]  # well-formed, but of no file
    saved.registry.set_file("lr", 1, {"file_chunks": json.dumps(record)})
    expected = (
        "The file of lr:1 (lr/v1.joblib) does not match the digests registered for its chunks, though a second "
        "read matches its registered sha256: it changed while it was read, or the registry's record of it is "
        "inconsistent. It was not loaded; load it again, and run `modelservice verify` if this persists.")
    with _fresh(saved) as later, pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(expected)}$"):
        later.load_model("lr:1")


# -- reading whole: the database store (its files are not streamed) ----------------------------------

class CustomScaler(FunctionTransformer):
    """A user-defined class: a skops file holding it loads only when it is listed as trusted."""


def _fresh_db(service):
    return ModelService(db_url=service.registry.url, models_directory="db://")


def test_a_database_store_load_trusts_the_listed_skops_types(db_service, iris):
    X, y = iris
    db_service.train_model(make_pipeline(CustomScaler(), LogisticRegression(max_iter=2000)), X, y, model_id="custom")
    db_service.save_model("custom", save_format="skops")
    name = f"{__name__}.CustomScaler"
    with _fresh_db(db_service) as later:
        with pytest.raises(UntrustedTypesError) as info:
            later.get_model("custom")
        assert info.value.types == [name]
        model = later.get_model("custom", trusted=[name])
    assert isinstance(model.steps[0][1], CustomScaler)
    assert model.predict(X).tolist() == db_service.current_model.predict(X).tolist()


def test_a_database_store_read_of_bytes_of_another_format_names_the_version_and_path(db_service, iris):
    X, y = iris
    _train(db_service, X, y)
    db_service.save_model("lr")
    row = db_service.registry.get("lr", 1)
    with pytest.raises(ArtifactIntegrityError, match=r"^The file of lr:1 \(lr/v1\.joblib\) is registered as skops"):
        db_service.files.read(LR1, {**row, "file_format": "skops"})


def test_a_database_store_load_of_removed_bytes_names_the_version_and_its_path(db_service, iris):
    X, y = iris
    _train(db_service, X, y)
    db_service.save_model("lr")
    db_service.store.delete("lr/v1.joblib")
    expected = "The file of lr:1 (lr/v1.joblib) is missing: it was removed. Save the model again or delete this version."
    with _fresh_db(db_service) as later, pytest.raises(ArtifactError, match=f"^{re.escape(expected)}$"):
        later.load_model("lr:1")


# -- sidecars ----------------------------------------------------------------------------------------

def test_write_sidecar_returns_the_row_of_its_version(service, iris):
    X, y = iris
    _train(service, X, y, n=2)
    service.save_model("lr", version=1)
    service.save_model("lr", version=2)
    row = service.files.write_sidecar(LR1)
    assert (row["version"], row["file_path"]) == (1, "lr/v1.joblib")
    sidecar = json.loads((service.store.root / "lr" / "v1.json").read_text())
    assert (sidecar["version"], sidecar["file_sha256"]) == (1, row["file_sha256"])


def test_a_row_deleted_in_the_transaction_does_not_stop_the_other_sidecars(service, iris):
    X, y = iris
    _train(service, X, y, n=2)
    service.save_model("lr", version=1)
    service.save_model("lr", version=2)
    with service.files.atomic():
        service.registry.set_status("lr", 1, "archived")
        service.registry.delete("lr", 1)
        service.registry.set_status("lr", 2, "production")
    sidecar = json.loads((service.store.root / "lr" / "v2.json").read_text())
    assert sidecar["status"] == service.registry.get("lr", 2)["status"] == "production"


# -- the pickle policy -------------------------------------------------------------------------------

def test_the_pickle_policy_reads_the_environment_case_blind(monkeypatch):
    monkeypatch.setenv(ENV_ALLOW_PICKLE, " OFF ")
    assert pickle_allowed() is False
    monkeypatch.setenv(ENV_ALLOW_PICKLE, "Yes")
    assert pickle_allowed() is True
    monkeypatch.setenv(ENV_ALLOW_PICKLE, "maybe")
    expected = (f"{ENV_ALLOW_PICKLE}='maybe' is not understood; set it to 0 to refuse joblib/pickle model "
                "files, or 1 (or unset it) to allow them.")
    with pytest.raises(InvalidInputError, match=f"^{re.escape(expected)}$"):
        pickle_allowed()
    with pytest.raises(InvalidInputError, match=r"^allow_pickle must be True, False or None, not 'yes'\.$"):
        pickle_allowed("yes")


# -- the behaviour probe under other library versions -----------------------------------------------

@pytest.fixture
def other_versions(monkeypatch):
    """Call it with versions to run what follows as under those library releases."""
    real = provenance.environment

    def switch(**versions):
        monkeypatch.setattr(provenance, "environment", lambda: {**real(), **versions})
        return real()

    return switch


def _fresh(service):
    return ModelService(db_url=service.registry.url, models_directory=service.store.root)


def _load_warnings(service, ref):
    with _fresh(service) as later, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        later.load_model(ref)
    return [w for w in caught if issubclass(w.category, EnvironmentMismatchWarning)]


def test_same_probe_predictions_are_recorded_once_per_version_and_library_change(service, iris, other_versions):
    X, y = iris
    _train(service, X, y, n=2)
    service.save_model("lr", version=1)
    service.save_model("lr", version=2)
    saved_with = other_versions(sklearn="98.0.0")
    first = [f"sklearn {saved_with['sklearn']} → 98.0.0"]
    assert _load_warnings(service, "lr:1") == []
    assert _load_warnings(service, "lr:1") == []  # the second load finds the event: not recorded again
    assert [e["details"] for e in _events(service.registry, LR1, "behaviour_verified")] == \
        [{"libraries": first, "probe_rows": 5}]
    assert _load_warnings(service, "lr:2") == []  # another version: its own event
    assert [e["details"]["libraries"] for e in _events(service.registry, ModelVersion("lr", 2),
                                                        "behaviour_verified")] == [first]
    other_versions(sklearn="99.0.0")  # another library change: recorded again
    assert _load_warnings(service, "lr:1") == []
    assert [e["details"]["libraries"] for e in _events(service.registry, LR1, "behaviour_verified")] == \
        [first, [f"sklearn {saved_with['sklearn']} → 99.0.0"]]


def test_same_probe_predictions_are_recorded_for_each_model_id(service, iris, other_versions):
    X, y = iris
    for model_id in ("a", "b"):
        service.train_model(LogisticRegression, X, y, model_id=model_id, max_iter=2000)
        service.save_model(model_id)
    saved_with = other_versions(sklearn="98.0.0")
    assert _load_warnings(service, "a:1") == []
    assert _load_warnings(service, "b:1") == []  # the event of a:1 is not one of b:1
    expected = [{"libraries": [f"sklearn {saved_with['sklearn']} → 98.0.0"], "probe_rows": 5}]
    for model_id in ("a", "b"):
        assert [e["details"] for e in _events(service.registry, ModelVersion(model_id, 1), "behaviour_verified")] \
            == expected


def _said(saved_with):
    return (f"lr:1 was saved with other library versions (sklearn {saved_with['sklearn']} → 99.0.0; "
            f"numpy {saved_with['numpy']} → 98.0.0)")


def test_changed_predictions_warn_with_both_libraries_from_outside_model_files(saved, other_versions):
    kept = saved.registry.get("lr", 1)["probe"]
    kept["proba"][0][0] += 0.25
    saved.registry.set_values("lr", 1, {"probe": kept})
    saved_with = other_versions(sklearn="99.0.0", numpy="98.0.0")
    (warning,) = _load_warnings(saved, "lr:1")
    assert str(warning.message) == (
        f"{_said(saved_with)}; 1 of 5 predictions on its behaviour probe differ now (largest difference "
        "0.25). Retrain it with the current versions, or check it with service.reproduce(...).")
    assert warning.filename == __file__  # attributed to the line that called load_model
    assert _events(saved.registry, LR1, "behaviour_verified") == []


def test_without_a_probe_the_warning_says_so(saved, other_versions):
    saved.registry.set_values("lr", 1, {"probe": None})
    saved_with = other_versions(sklearn="99.0.0", numpy="98.0.0")
    (warning,) = _load_warnings(saved, "lr:1")
    assert str(warning.message) == (
        f"{_said(saved_with)}; predictions may differ (it has no behaviour probe to check them). Retrain it "
        "with the current versions to be safe.")


def test_a_probe_the_model_cannot_predict_warns_with_the_error(saved, other_versions):
    kept = saved.registry.get("lr", 1)["probe"]
    kept["rows"] = [r[:2] for r in kept["rows"]]  # two features for a model of four
    saved.registry.set_values("lr", 1, {"probe": kept})
    saved_with = other_versions(sklearn="99.0.0", numpy="98.0.0")
    (warning,) = _load_warnings(saved, "lr:1")
    assert re.fullmatch(
        re.escape(f"{_said(saved_with)}, and it fails on its behaviour probe now (ValueError: ") + r".*4 features.*"
        + re.escape("). Retrain it with the current versions."), str(warning.message), flags=re.S)


def test_the_warning_points_at_the_line_that_called_load_model(saved, other_versions):
    saved.registry.set_values("lr", 1, {"probe": None})
    other_versions(sklearn="99.0.0")
    with _fresh(saved) as later, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        later.load_model("lr:1")
    (warning,) = [w for w in caught if issubclass(w.category, EnvironmentMismatchWarning)]
    assert (warning.filename, warning.lineno) == (__file__, line)


def test_a_load_from_code_run_without_a_module_name_still_warns(saved, other_versions):
    saved.registry.set_values("lr", 1, {"probe": None})
    other_versions(sklearn="99.0.0")
    with _fresh(saved) as later, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec("later.load_model('lr:1')", {"later": later})  # globals without __name__, as exec gives them
    (warning,) = [w for w in caught if issubclass(w.category, EnvironmentMismatchWarning)]
    assert warning.filename == "<string>"
    assert "predictions may differ (it has no behaviour probe to check them)" in str(warning.message)

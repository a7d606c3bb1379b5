"""JSON read from disk or an archive: limited, schema-checked, one encoding for NaN; archive bounds.

Every sidecar, manifest and metadata document goes through one reader with a
size and a depth limit and a type check per known field. A bad document is one
clear line about that file, and the other files are still processed.
"""

from __future__ import annotations

import json
import zipfile

import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ArtifactError, InvalidModelIdError, ModelService, maintenance
from jupyter_modelservice.cli import main


def _imported(report):
    """The one version an import added, as ``{"ref", **details}``."""
    [found] = report.of("imported")
    return {**found.details, "ref": found.ref}


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def saved(tmp_path, tiny_data):
    """rf:1, rf:2 and lr:1 saved; the service holds no model in memory."""
    X, y = tiny_data
    models = tmp_path / "models"
    (tmp_path / "db").mkdir()
    with ModelService(models_directory=models) as trainer:
        for model_id in ("rf", "rf", "lr"):
            trainer.train_model(LogisticRegression, X, y, model_id=model_id)
            trainer.save_model(model_id)
    service = ModelService(models_directory=models)
    yield service
    service.close()


def _sidecar(models, model_id, version):
    return json.loads((models / model_id / f"v{version}.json").read_text())


def _lose_database(service):
    """A service on the same models folder with an empty database."""
    root = service.store.root
    return ModelService(models_directory=root, db_url=f"sqlite:///{root.parent / 'db' / 'new.db'}")


# -- item 6: limits and schema ----------------------------------------------------------------
def test_deeply_nested_sidecars_are_one_line_each_and_the_others_are_processed(saved, capsys):
    models = saved.store.root
    (models / "rf" / "v2.json").write_text('{"sidecar_protocol": 1, "tags": ' + DEEP + "}")
    (models / "lr" / "v1.json").write_text(DEEP)

    found = maintenance.verify(saved, grace=0)
    assert found.kinds() == {"stale_sidecar": 2}
    assert all("nested" in p.message and "\n" not in p.message for p in found.problems)

    with _lose_database(saved) as fresh:
        report = maintenance.rebuild_index(fresh)
    assert report.refs("added") == ["rf:1"]
    refused = {item.path: item.details["reason"] for item in report.of("refused")}
    assert set(refused) == {"rf/v2.json", "lr/v1.json"} and all("nested" in r for r in refused.values())
    assert main(["--dir", str(models), "--db-url", fresh.registry.url, "rebuild-index"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and out.count("nested") == 2


def test_oversized_sidecars_are_refused_before_parsing(saved):
    models = saved.store.root
    (models / "lr" / "v1.json").write_text('{"tags": {"x": "' + "a" * (17 << 20) + '"}}')
    with _lose_database(saved) as fresh:
        report = maintenance.rebuild_index(fresh)
    assert report.paths("refused") == ["lr/v1.json"]
    assert "bytes" in report.of("refused")[0].details["reason"] and sorted(report.refs("added")) == ["rf:1", "rf:2"]


@pytest.mark.parametrize("field, value, match", [
    ("cv_scores", [1], "cv_scores"),
    ("tags", "t", "tags"),
    ("feature_names", [1, 2, 3], "feature_names"),
    ("train_score", "high", "train_score"),
    ("training_samples", True, "training_samples"),
    ("model_class", {"x": 1}, "model_class"),
    ("status", "live", "status"),
])
def test_sidecar_fields_of_the_wrong_type_are_refused_with_the_field_named(saved, field, value, match):
    models = saved.store.root
    data = _sidecar(models, "lr", 1)
    data[field] = value
    (models / "lr" / "v1.json").write_text(json.dumps(data))
    with _lose_database(saved) as fresh:
        report = maintenance.rebuild_index(fresh)
    assert report.paths("refused") == ["lr/v1.json"]
    assert match in report.of("refused")[0].details["reason"]
    assert sorted(report.refs("added")) == ["rf:1", "rf:2"]


def test_rebuild_applies_the_letter_case_rule(saved):
    models = saved.store.root
    data = _sidecar(models, "lr", 1)
    (models / "LR").mkdir()
    (models / "LR" / "v1.joblib").write_bytes((models / "lr" / "v1.joblib").read_bytes())
    (models / "LR" / "v1.json").write_text(json.dumps({**data, "model_id": "LR", "file_path": "LR/v1.joblib"}))
    report = maintenance.rebuild_index(saved)
    assert report.paths("refused") == ["LR/v1.json"]
    assert "letter case" in report.of("refused")[0].details["reason"]
    assert {r["model_id"] for r in saved.registry.list()} == {"rf", "lr"}


def test_a_rebuilt_version_number_is_range_checked(saved):
    models = saved.store.root
    data = _sidecar(models, "lr", 1)
    (models / "lr" / "v999999999.joblib").write_bytes((models / "lr" / "v1.joblib").read_bytes())
    (models / "lr" / "v999999999.json").write_text(json.dumps(
        {**data, "version": 999999999, "file_path": "lr/v999999999.joblib"}))
    report = maintenance.rebuild_index(saved)
    assert report.paths("refused") == ["lr/v999999999.json"]
    assert "1000000" in report.of("refused")[0].details["reason"]
    assert saved.registry.next_version("lr") == 2


# -- item 7: one encoding for NaN and infinity ------------------------------------------------
def test_non_finite_metrics_and_tags_do_not_make_a_sidecar_stale_forever(saved):
    models = saved.store.root
    saved.update_model_metadata("rf:1", {"tags": {"nan": float("nan"), "inf": float("inf"), "ok": 1.5}})
    with saved.files.atomic():  # the row and its sidecar, as an evaluation stores metrics
        saved.registry.set_values("rf", 2, {"metrics": {"r2": float("nan"), "all": [float("-inf"), 2.0]}})
    text = (models / "rf" / "v1.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # standard JSON: null
    assert _sidecar(models, "rf", 1)["tags"] == {"nan": None, "inf": None, "ok": 1.5}
    assert saved.registry.get("rf", 1)["tags"] == {"nan": None, "inf": None, "ok": 1.5}  # the database too
    assert saved.registry.get("rf", 2)["metrics"] == {"r2": None, "all": [None, 2.0]}
    report = maintenance.verify(saved, grace=0)
    assert report.ok, report.to_dict()
    assert not maintenance.repair(saved).changes


def test_an_older_sidecar_holding_nan_is_not_stale(saved):
    models = saved.store.root
    saved.update_model_metadata("rf:1", {"tags": {"nan": float("nan")}})
    text = (models / "rf" / "v1.json").read_text().replace('"nan": null', '"nan": NaN')
    (models / "rf" / "v1.json").write_text(text)  # as earlier versions of the package wrote it
    assert maintenance.verify(saved, grace=0).ok


# -- item 8 and the archive's low items ------------------------------------------------------
@pytest.fixture
def archive(saved, tmp_path):
    maintenance.export_version(saved, "rf:2", tmp_path / "rf2.zip")
    return tmp_path / "rf2.zip"


def _rewrite(archive, dest, *, manifest=None, metadata=None, compress=None, raw_manifest=None):
    with zipfile.ZipFile(archive) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    if manifest:
        entries["manifest.json"] = json.dumps({**json.loads(entries["manifest.json"]), **manifest}).encode()
    if raw_manifest is not None:
        entries["manifest.json"] = raw_manifest.encode()
    if metadata:
        entries["metadata.json"] = json.dumps({**json.loads(entries["metadata.json"]), **metadata}).encode()
    with zipfile.ZipFile(dest, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if name == compress else None)
    return dest


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                  and not p.name.startswith("registry"))


def test_an_archive_with_a_huge_version_is_refused_or_renumbered(archive, tmp_path, capsys):
    huge = _rewrite(archive, tmp_path / "huge.zip", manifest={"version": 999999999},
                    metadata={"version": 999999999})
    with ModelService(models_directory=tmp_path / "target") as target:
        with pytest.raises(ArtifactError, match="999999999.*--as-new-version"):
            _imported(maintenance.import_version(target, huge))
        assert target.registry.list() == [] and _files(tmp_path / "target") == []
        result = _imported(maintenance.import_version(target, huge, as_new_version=True))
        assert result["ref"] == "rf:1" and not result["kept_version"]
        assert target.registry.next_version("rf") == 2
        far = _rewrite(archive, tmp_path / "far.zip", manifest={"version": 5000}, metadata={"version": 5000})
        with pytest.raises(ArtifactError, match="5000"):
            _imported(maintenance.import_version(target, far))
        assert _imported(maintenance.import_version(target, archive))["ref"] == "rf:2"  # a small gap is fine
    target_dir = tmp_path / "target"
    assert main(["--dir", str(target_dir), "import", str(huge), "--as-new-version"]) == 0
    assert "as rf:3" in capsys.readouterr().out


def test_a_compressed_model_entry_is_refused_before_anything_is_written(archive, tmp_path):
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    bomb = _rewrite(archive, tmp_path / "bomb.zip", compress=manifest["file"])
    with ModelService(models_directory=tmp_path / "target") as target:
        with pytest.raises(ArtifactError, match="compressed"):
            _imported(maintenance.import_version(target, bomb))
        assert target.registry.list() == [] and _files(tmp_path / "target") == []


@pytest.mark.parametrize("metadata, match", [
    ({"cv_scores": [1]}, "cv_scores"),
    ({"tags": "t"}, "tags"),
    ({"metrics": [1, 2]}, "metrics"),
    ({"training_date": 20240101}, "training_date"),
])
def test_imported_metadata_is_type_checked(archive, tmp_path, metadata, match):
    bad = _rewrite(archive, tmp_path / "bad.zip", metadata=metadata)
    with ModelService(models_directory=tmp_path / "target") as target:
        with pytest.raises(ArtifactError, match=f"metadata.json.*{match}"):
            _imported(maintenance.import_version(target, bad))
        assert target.registry.list() == [] and _files(tmp_path / "target") == []


def _text(manifest, **changes):
    """The manifest as JSON text, with values written as raw JSON text."""
    text = json.dumps({**manifest, **{k: f"@{k}@" for k in changes}})
    for key, raw in changes.items():
        text = text.replace(f'"@{key}@"', raw)
    return text


@pytest.mark.parametrize("manifest, match", [
    (lambda m: DEEP, "nested"),
    (lambda m: _text(m, version='"2"'), "version"),
    (lambda m: _text(m, bytes="-5"), "bytes"),
    (lambda m: _text(m, bytes="1e400"), "bytes"),
    (lambda m: _text(m, signature='"signed"'), "signature"),
])
def test_a_bad_manifest_is_one_clear_error(archive, tmp_path, manifest, match, capsys):
    with zipfile.ZipFile(archive) as zf:
        real = json.loads(zf.read("manifest.json"))
    bad = _rewrite(archive, tmp_path / "bad.zip", raw_manifest=manifest(real))
    with ModelService(models_directory=tmp_path / "target") as target:
        with pytest.raises(ArtifactError, match=match):
            _imported(maintenance.import_version(target, bad))
    assert main(["--dir", str(tmp_path / "target"), "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "manifest.json" in err


def test_import_as_new_version_from_python_keeps_the_id_rule(archive, tmp_path, tiny_data):
    X, y = tiny_data
    with ModelService(models_directory=tmp_path / "target") as target:
        target.train_model(LogisticRegression, X, y, model_id="RF")
        with pytest.raises(InvalidModelIdError, match="letter case"):
            _imported(maintenance.import_version(target, archive, as_new_version=True))
        result = _imported(maintenance.import_version(target, archive, model_id="RF", as_new_version=True))
        assert result["ref"] == "RF:2"


def test_an_archive_carries_no_path_of_the_exporting_machine(archive, saved):
    with zipfile.ZipFile(archive) as zf:
        metadata = json.loads(zf.read("metadata.json"))
    assert metadata["file_path"] == "rf/v2.joblib" and "relative_path" not in metadata
    assert str(saved.store.root) not in json.dumps(metadata)

"""Every maintenance command returns the one `Report` type, with the same JSON shape."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService, maintenance
from jupyter_modelservice.maintenance import KINDS, Finding, Report


def test_verify_repair_gc_rebuild_and_import_report_alike(tmp_path, iris):
    X, y = iris
    with ModelService(models_directory=tmp_path / "models") as service:
        service.train_model(LogisticRegression, X, y, model_id="lr", max_iter=500)
        service.save_model("lr")
        maintenance.export_version(service, "lr", tmp_path / "lr.zip")
        (tmp_path / "models" / "lr" / "v1.json").unlink()
        reports = {"verify": maintenance.verify(service, grace=0), "repair": maintenance.repair(service, grace=0),
                   "gc": maintenance.collect_garbage(service, grace=0), "rebuild-index": maintenance.rebuild_index(service)}
    with ModelService(models_directory=tmp_path / "target") as target:
        reports["import"] = maintenance.import_version(target, tmp_path / "lr.zip")
    for command, report in reports.items():
        assert isinstance(report, Report) and report.command == command
        assert set(report.to_dict()) == {"command", "ok", "dry_run", "counts", "problems", "changes", "notes"}
        for finding in (*report.problems, *report.changes, *report.notes):
            assert isinstance(finding, Finding) and finding.kind in KINDS, finding
    assert reports["verify"].kinds() == {"missing_sidecar": 1} and not reports["verify"].ok
    assert reports["repair"].refs("sidecar_rewritten") == ["lr:1"]
    assert reports["rebuild-index"].refs("present") == ["lr:1"] and reports["gc"].changes == []
    [imported] = reports["import"].changes
    assert (imported.kind, imported.ref, imported.details["trust"]) == ("imported", "lr:1", "unverified")
    assert reports["verify"].problems[0].to_dict()["advice"] == "run `modelservice verify --repair`"

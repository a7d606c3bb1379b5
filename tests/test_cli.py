"""The ``modelservice`` command, through ``main(argv)`` and once as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_modelservice import ModelService
from jupyter_modelservice.cli import build_parser, main

COMMANDS = ["list", "show", "verify", "gc", "rebuild-index", "trust", "export", "import", "migrate"]


@pytest.fixture(scope="module")
def data():
    X = np.random.default_rng(0).normal(size=(30, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.fixture
def models(tmp_path, data):
    """rf:1 archived, rf:2 saved (pickle), a_b:1 saved, draft:1 never saved."""
    X, y = data
    folder = tmp_path / "models"
    with ModelService(models_directory=folder) as service:
        service.train_model(LogisticRegression, X, y, model_id="rf", C=1.0)
        service.save_model("rf")
        service.train_model(LogisticRegression, X, y, model_id="rf", C=2.0)
        service.save_model("rf", save_format="pickle")
        service.train_model(DummyClassifier, X, y, model_id="a_b")
        service.save_model("a_b")
        service.train_model(DummyClassifier, X, y, model_id="draft")
        service.archive_model("rf:1")
    return folder


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``modelservice argv``."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


# -- help and usage errors ------------------------------------------------------------
def test_help_everywhere(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and all(name in out for name in COMMANDS)
    for name in COMMANDS:
        status, out, _ = run(capsys, name, "--help")
        assert status == 0 and out.startswith(f"usage: modelservice {name}") and "--json" in out


@pytest.mark.parametrize("argv", [[], ["bogus"], ["show"], ["export", "rf"], ["list", "--limit", "abc"],
                                  ["list", "--status", "live"], ["gc", "--grace", "-1"], ["migrate"]])
def test_usage_errors_exit_2_with_one_line(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == "" and "error:" in err


def test_bad_references_are_usage_errors(capsys, models):
    for ref in ("../rf", "rf:0", "rf:1.5", "CON", "a b"):
        status, _, err = run(capsys, "--dir", models, "show", ref)
        assert status == 2 and err.count("\n") == 1 and err.startswith("modelservice: error: Invalid")
    status, _, err = run(capsys, "--dir", models, "list", "--limit", "0")
    assert status == 2 and "--limit" in err


@pytest.mark.parametrize("url", ["nonsense://x", "sqlite:////nonexistent-folder/deeper/registry.db"])
def test_an_unusable_database_url_is_a_one_line_failure(capsys, tmp_path, url):
    status, _, err = run(capsys, "--db-url", url, "list")
    assert status == 1 and err.startswith("modelservice: error:") and err.count("\n") == 1


def test_a_missing_registry_is_a_failure_and_creates_nothing(capsys, tmp_path):
    status, _, err = run(capsys, "--dir", tmp_path / "nope", "list")
    assert status == 1 and "no registry in" in err and err.count("\n") == 1
    assert not (tmp_path / "nope").exists()


# -- list and show ---------------------------------------------------------------------
def test_list_as_a_table_and_as_json(capsys, models):
    status, out, _ = run(capsys, "--dir", models, "list")
    lines = out.splitlines()
    assert status == 0 and lines[0].split()[:3] == ["REF", "STATUS", "CLASS"]
    assert {line.split()[0] for line in lines[1:]} == {"rf:1", "rf:2", "a_b:1", "draft:1"}
    assert "pickle" in out and "archived" in out
    status, out, _ = run(capsys, "list", "--json", "--dir", models, "--status", "saved")  # options after
    rows = json.loads(out)
    assert status == 0 and sorted(f"{r['model_id']}:{r['version']}" for r in rows) == ["a_b:1", "rf:2"]
    status, out, _ = run(capsys, "--dir", models, "--json", "list", "--limit", "1")
    assert len(json.loads(out)) == 1


@pytest.mark.parametrize("search, expected", [("_", ["a_b:1"]), ("%", []), ("' OR 1=1 --", []),
                                              ("RF", ["rf:1", "rf:2"]), ("dummy", ["a_b:1", "draft:1"]),
                                              ("\\", [])])
def test_list_search_is_plain_text(capsys, models, search, expected):
    status, out, _ = run(capsys, "--dir", models, "--json", "list", "--search", search)
    assert status == 0 and sorted(f"{r['model_id']}:{r['version']}" for r in json.loads(out)) == expected


def test_show_a_version_with_its_history(capsys, models):
    status, out, _ = run(capsys, "--dir", models, "show", "rf:1")
    assert status == 0 and "model_class" in out and "LogisticRegression" in out and "archived" in out
    assert "history" in out and "registered" in out
    status, out, _ = run(capsys, "--dir", models, "--json", "show", "rf")
    row = json.loads(out)
    assert row["version"] == 2 and row["file_format"] == "pickle"
    assert [e["event"] for e in row["history"]] == ["registered", "save", "status"]
    status, _, err = run(capsys, "--dir", models, "show", "rf:7")
    assert status == 1 and "no version 7 (latest is 2)" in err


# -- verify and gc -----------------------------------------------------------------------
def test_verify_passes_then_lists_each_problem_and_fails(capsys, models):
    status, out, _ = run(capsys, "--dir", models, "verify")
    assert status == 0 and out.strip().endswith("OK")
    (models / "rf" / "v2.pkl").write_bytes(b"\x80tampered")
    (models / "a_b" / "v1.joblib").unlink()
    (models / "lost").mkdir()
    (models / "lost" / "v1.joblib").write_bytes(b"orphan")
    (models / "rf" / ".tmp-v3.joblib-abcdef").write_bytes(b"partial")
    status, out, _ = run(capsys, "--dir", models, "verify", "--grace", "0")
    assert status == 1
    assert "hash_mismatch: rf:2" in out and "missing_file: a_b:1" in out and "orphan_file: lost/v1.joblib" in out
    assert "stale_temp: rf/.tmp-v3.joblib-abcdef" in out
    status, out, _ = run(capsys, "--dir", models, "--json", "verify")  # default grace: temp file is a note
    report = json.loads(out)
    assert status == 1 and not report["ok"]
    assert sorted(p["kind"] for p in report["problems"]) == ["hash_mismatch", "missing_file", "orphan_file"]
    assert [n["kind"] for n in report["notes"]] == ["temp"]
    assert all(p["advice"] for p in report["problems"])


def test_verify_repair_finishes_an_interrupted_save(capsys, models):
    with ModelService(models_directory=models) as service:
        service.registry.update("a_b", 1, {"artifact_state": "pending"})
    (models / "rf" / "v2.json").unlink()
    status, out, _ = run(capsys, "--dir", models, "verify")
    assert status == 1 and "incomplete_save: a_b:1" in out and "missing_sidecar: rf:2" in out
    assert "verify --repair" in out
    status, out, _ = run(capsys, "--dir", models, "verify", "--repair")
    assert status == 0 and "repaired: a_b:1: save completed" in out and "repaired: rf:2: sidecar rewritten" in out


def test_gc_dry_run_then_for_real(capsys, models):
    size = (models / "rf" / "v1.joblib").stat().st_size
    temp = models / "rf" / ".tmp-v9.pkl-123456"
    temp.write_bytes(b"t" * 100)
    status, out, _ = run(capsys, "--dir", models, "--json", "gc", "--dry-run", "--grace", "0")
    report = json.loads(out)
    assert status == 0 and report["dry_run"] and report["counts"]["bytes_freed"] == size + 100
    assert temp.exists() and (models / "rf" / "v1.joblib").exists()
    status, out, _ = run(capsys, "--dir", models, "gc", "--grace", "0")
    assert status == 0 and "removed rf/v1.joblib" in out and "freed" in out
    assert not temp.exists() and not (models / "rf" / "v1.joblib").exists()
    status, out, _ = run(capsys, "--dir", models, "verify")
    assert status == 0
    status, out, _ = run(capsys, "--dir", models, "list", "--status", "archived")
    assert "removed by gc" in out


# -- rebuild, export, import -------------------------------------------------------------
def test_rebuild_index_after_losing_the_database(capsys, models):
    for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
        (models / name).unlink(missing_ok=True)
    status, out, _ = run(capsys, "--dir", models, "rebuild-index")
    assert status == 0 and "3 version(s) restored" in out
    status, out, _ = run(capsys, "--dir", models, "--json", "list")
    assert sorted(f"{r['model_id']}:{r['version']}" for r in json.loads(out)) == ["a_b:1", "rf:1", "rf:2"]
    (models / "bad").mkdir()
    (models / "bad" / "v1.json").write_text("{")
    status, out, _ = run(capsys, "--dir", models, "rebuild-index")
    assert status == 1 and "refused bad/v1.json" in out


def test_export_and_import_between_registries(capsys, models, tmp_path):
    archive = tmp_path / "rf2.zip"
    status, out, _ = run(capsys, "--dir", models, "export", "rf", archive)
    assert status == 0 and "exported rf:2" in out and zipfile.is_zipfile(archive)
    status, _, err = run(capsys, "--dir", models, "export", "rf", archive)
    assert status == 2 and "--force" in err
    target = tmp_path / "target"
    status, out, _ = run(capsys, "--dir", target, "import", archive)
    assert status == 0 and "as rf:2" in out and "sha256 verified" in out
    status, out, _ = run(capsys, "--dir", target, "--json", "import", archive, "--as", "rf_copy")
    assert status == 0 and json.loads(out)["changes"][0]["ref"] == "rf_copy:2"
    status, out, _ = run(capsys, "--dir", target, "import", archive)
    assert "as rf:3 (version 2 was taken)" in out
    with zipfile.ZipFile(archive) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    entries["model.pkl"] = entries["model.pkl"][:-1] + b"!"
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        for name, payload in entries.items():
            zf.writestr(name, payload)
    status, _, err = run(capsys, "--dir", target, "import", tmp_path / "bad.zip")
    assert status == 1 and "sha256" in err and err.count("\n") == 1
    status, _, err = run(capsys, "--dir", target, "import", tmp_path / "none.zip")
    assert status == 1 and "no archive at" in err


def test_db_url_comes_from_the_environment(capsys, models, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELSERVICE_DB_URL", f"sqlite:///{models / 'registry.db'}")
    status, out, _ = run(capsys, "--dir", tmp_path / "elsewhere", "--json", "list")
    assert status == 0 and len(json.loads(out)) == 4
    status, out, _ = run(capsys, "--db-url", "sqlite:///" + str(tmp_path / "empty.db"), "--json", "list")
    assert status == 0 and json.loads(out) == []


# -- migrate ---------------------------------------------------------------------------
def _fake_migrate(monkeypatch, report):
    calls = []

    def migrate_registry(source, target, *, copy_files=True, progress=None):
        calls.append({"source": source.registry.url, "target": target.registry.url,
                      "target_dir": str(target.models_directory), "copy_files": copy_files})
        if progress is not None:
            progress(1, 1)
        return report

    module = types.ModuleType("jupyter_modelservice.migrate")
    module.migrate_registry = migrate_registry
    monkeypatch.setitem(sys.modules, "jupyter_modelservice.migrate", module)
    return calls


def test_migrate_passes_source_target_and_file_copying(capsys, models, tmp_path, monkeypatch):
    calls = _fake_migrate(monkeypatch, {"ok": True, "copied": ["rf:1"]})
    url = f"sqlite:///{tmp_path / 'team.db'}"
    status, out, err = run(capsys, "--dir", models, "migrate", "--to", url)
    assert status == 0 and "copied: 1 (rf:1)" in out and "migrated 1/1" in err
    assert calls[-1] == {"source": f"sqlite:///{models.absolute() / 'registry.db'}", "target": url,
                         "target_dir": str(models), "copy_files": False}
    status, out, _ = run(capsys, "--dir", models, "--json", "migrate", "--to", url, "--copy-files",
                         tmp_path / "team_files")
    assert status == 0 and json.loads(out)["ok"] is True
    assert calls[-1]["copy_files"] is True and calls[-1]["target_dir"] == str(tmp_path / "team_files")


def test_migrate_failures_are_reported(capsys, models, tmp_path, monkeypatch):
    _fake_migrate(monkeypatch, {"ok": False, "conflicts": [{"ref": "rf:1"}]})
    status, out, _ = run(capsys, "--dir", models, "migrate", "--to", f"sqlite:///{tmp_path / 't.db'}")
    assert status == 1 and "conflicts: 1" in out
    monkeypatch.setitem(sys.modules, "jupyter_modelservice.migrate", None)  # not installed
    status, _, err = run(capsys, "--dir", models, "migrate", "--to", f"sqlite:///{tmp_path / 't.db'}")
    assert status == 1 and "cannot migrate" in err


def test_migrate_sqlite_to_sqlite_for_real(capsys, models, tmp_path, data):
    X, _ = data
    url = f"sqlite:///{tmp_path / 'team' / 'registry.db'}"
    (tmp_path / "team").mkdir()
    status, out, _ = run(capsys, "--dir", models, "--json", "migrate", "--to", url, "--copy-files",
                         tmp_path / "team")
    assert status == 0 and json.loads(out)["ok"]
    with ModelService(models_directory=tmp_path / "team") as team:
        assert {(r["model_id"], r["version"]) for r in team.list_models()} == \
            {("rf", 1), ("rf", 2), ("a_b", 1), ("draft", 1)}
        assert team.load_model("rf:2") and team.predict(X).shape == (30,)
    status, _, _ = run(capsys, "--dir", tmp_path / "team", "verify")
    assert status == 0


# -- as real processes -------------------------------------------------------------------
def _cli_env():
    env = dict(os.environ)
    env.pop("MODELSERVICE_DB_URL", None)
    return env


def test_the_command_runs_as_a_process(models, tmp_path):
    python = [sys.executable, "-m", "jupyter_modelservice"]
    ok = subprocess.run([*python, "--dir", str(models), "--json", "verify"], capture_output=True, text=True,
                        env=_cli_env(), timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"], ok.stderr
    (models / "rf" / "v2.pkl").write_bytes(b"\x80tampered")
    bad = subprocess.run([*python, "--dir", str(models), "verify"], capture_output=True, text=True,
                         env=_cli_env(), timeout=120)
    assert bad.returncode == 1 and "hash_mismatch: rf:2" in bad.stdout
    usage = subprocess.run([*python, "show", "../../etc/passwd", "--dir", str(models)], capture_output=True,
                           text=True, env=_cli_env(), timeout=120)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    assert usage.stderr.strip().startswith("modelservice: error: Invalid model_id")
    script = Path(sys.executable).with_name("modelservice")
    assert script.exists(), script  # the installed entry point
    listed = subprocess.run([str(script), "--dir", str(models), "list"], capture_output=True, text=True,
                            env=_cli_env(), timeout=120)
    assert listed.returncode == 0 and "rf:2" in listed.stdout


def test_parser_is_buildable_without_side_effects():
    parser = build_parser()
    assert parser.prog == "modelservice"
    assert parser.parse_args(["list"]).dir == "./models"


def test_list_where(capsys, models):
    status, out, _ = run(capsys, "--dir", models, "--json", "list", "--where", "status == 'saved' and version >= 2")
    assert status == 0 and [(r["model_id"], r["version"]) for r in json.loads(out)] == [("rf", 2)]
    status, _, err = run(capsys, "--dir", models, "list", "--where", "import os")
    assert status != 0 and "where expression" in err and len(err.strip().splitlines()) == 1


def test_list_as_of(capsys, models):
    status, out, _ = run(capsys, "--dir", models, "--json", "list", "--as-of", "9999-12-31", "--status", "archived")
    assert status == 0 and [(r["model_id"], r["version"]) for r in json.loads(out)] == [("rf", 1)]
    status, out, _ = run(capsys, "--dir", models, "--json", "list", "--as-of", "2000-01-01")
    assert status == 0 and json.loads(out) == []
    status, _, err = run(capsys, "--dir", models, "list", "--as-of", "someday")
    assert status != 0 and "Cannot read 'someday'" in err


def test_card_is_deterministic_markdown(capsys, models):
    status, first, _ = run(capsys, "--dir", models, "card", "rf:2")
    assert status == 0 and first.startswith("# rf:2 — LogisticRegression")
    for heading in ("## Data", "## Parameters", "## Scores", "## Status history", "## File", "## Library versions"):
        assert heading in first
    assert "| C | 2 |" in first and "other parameters have their defaults" in first  # C=2.0 is not the default
    with ModelService(models_directory=models) as service:  # another process, same registry: same bytes
        assert service.model_card("rf:2") + "\n" == first
        assert str(models) not in first  # nothing of this machine's folders

"""``modelservice list --json`` writes rows as the registry reads them: the same text as one JSON
document of every row, without holding them all."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from jupyter_modelservice import ModelService
from jupyter_modelservice.cli import main
from jupyter_modelservice.registry.engine import finite
from jupyter_modelservice.registry.reads import RegistryReads


@pytest.fixture
def models(tmp_path):
    """Twelve versions of three ids: NaN and None scores, tags, text beyond ASCII, one with a file."""
    folder = tmp_path / "models"
    with ModelService(models_directory=folder) as service:
        for i in range(12):
            service.registry.add_version({
                "model_id": ["rf", "svc_é", "lr"][i % 3], "model_class": ["RandomForestClassifier", "SVC",
                                                                          "LogisticRegression"][i % 3],
                "status": ["saved", "archived", "trained", "production"][i % 4],
                "validation_score": float("nan") if i == 4 else None if i == 5 else i / 20,
                "tags": {"team": "vision", "n": i} if i % 2 else None, "metrics": {"accuracy": float("inf")},
                "file_path": "rf/v1.joblib" if i == 0 else None,
                "training_date": f"2026-01-{1 + i:02d}T00:00:00+00:00",
            })
    return folder


def listed(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main([str(a) for a in argv])
    assert status == 0
    return out.getvalue()


@pytest.mark.parametrize("options", [
    [], ["--status", "saved"], ["--search", "SVC_"], ["--where", "validation_score >= 0.2 and tags.team == 'vision'"],
    ["--limit", "5"], ["--limit", "1"], ["--search", "no such model"], ["--status", "production", "--limit", "2"],
])
def test_the_text_is_that_of_one_json_document_of_every_row(models, options):
    text = listed("--dir", models, "--json", "list", *options)
    with ModelService(models_directory=models) as service:
        search = options[options.index("--search") + 1] if "--search" in options else None
        status = options[options.index("--status") + 1] if "--status" in options else None
        where = options[options.index("--where") + 1] if "--where" in options else None
        limit = int(options[options.index("--limit") + 1]) if "--limit" in options else None
        rows = service.list_models(status=status, search=search, where=where, limit=limit)
    assert text == json.dumps(finite(rows), indent=2, sort_keys=True, default=str) + "\n"
    assert json.loads(text) == json.loads(json.dumps(finite(rows), default=str))
    assert ("[]\n" == text) == (rows == [])


def test_each_row_is_written_before_the_next_is_read(models, monkeypatch):
    written_before = []
    out = io.StringIO()
    original = RegistryReads.iter_rows

    def watched(self, **kwargs):
        for row in original(self, **kwargs):
            written_before.append(out.getvalue().count('"model_id"'))
            yield row

    monkeypatch.setattr(RegistryReads, "iter_rows", watched)
    monkeypatch.setattr(ModelService, "list_models", lambda *a, **k: pytest.fail("built the whole list"))
    with contextlib.redirect_stdout(out):
        assert main(["--dir", str(models), "--json", "list"]) == 0
    assert written_before == list(range(12))
    assert len(json.loads(out.getvalue())) == 12


def test_a_bad_query_writes_nothing_on_stdout(models, capsys):
    assert main(["--dir", str(models), "--json", "list", "--where", "import os"]) != 0
    out, err = capsys.readouterr()
    assert out == "" and "where expression" in err


def test_as_of_still_lists_through_the_history(models):
    text = listed("--dir", models, "--json", "list", "--as-of", "9999-12-31", "--status", "saved")
    with ModelService(models_directory=models) as service:
        rows = service.list_models(as_of="9999-12-31", status="saved")
    assert len(rows) == 3 and text == json.dumps(finite(rows), indent=2, sort_keys=True, default=str) + "\n"

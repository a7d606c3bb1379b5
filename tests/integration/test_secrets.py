"""Against the real PostgreSQL server: URLs carrying passwords and tokens never reach an output or an event."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from jupyter_modelservice import ModelService
from jupyter_modelservice.cli import main
from jupyter_modelservice.migrate import migrate_registry
from tests.test_redaction import assert_no_secret

pytestmark = pytest.mark.postgres


@pytest.fixture
def secret_url(pg_url):
    """The test database's URL with a password in the userinfo and in the query (trust auth ignores them)."""
    assert "://postgres@" in pg_url
    return (pg_url.replace("://postgres@", "://postgres:Pw-userinfo-1@", 1)
            + "&password=Pw-query-2&sslpassword=Pw-ssl-3")


def test_migrate_to_postgresql_stores_and_reports_no_secret(tmp_path, secret_url, capsys):
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    with ModelService(models_directory=tmp_path / "local") as source:
        source.train_model(DummyClassifier, X, y, model_id="rf")
        source.save_model()
        with ModelService("postgresql", tmp_path / "team", db_url=secret_url) as target:
            report = migrate_registry(source, target)
            events = target.registry.events()
    assert report["ok"] and report["copied"] == ["rf:1"]
    assert "postgres:***@127.0.0.1" in report["target"] and "password=***" in report["target"]
    assert [e["event"] for e in events].count("imported") == 1
    assert_no_secret(json.dumps(report), json.dumps(events, default=str))

    status = main(["--dir", str(tmp_path / "team"), "--db-url", secret_url, "--json", "list"])
    out, err = capsys.readouterr()
    assert status == 0 and [r["model_id"] for r in json.loads(out)] == ["rf"]
    assert_no_secret(out, err)


def test_a_wrong_database_name_is_reported_without_secrets(secret_url, tmp_path, capsys):
    head, _, query = secret_url.partition("?")
    wrong = head.rsplit("/", 1)[0] + "/no_such_database_here?" + query
    status = main(["--dir", str(tmp_path), "--db-url", wrong, "list"])
    out, err = capsys.readouterr()
    assert status == 1 and "no_such_database_here" in err
    assert_no_secret(out, err)

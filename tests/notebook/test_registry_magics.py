"""%models and %ms_config."""

from __future__ import annotations

import os

import pytest
from IPython.core.error import UsageError

from jupyter_modelservice.display import RegistryTable, ServiceConfig


def _magics(shell):
    return shell.magics_manager.registry["ModelServiceMagics"]


def test_models_lists_the_registry(classification_data, run):
    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    run(classification_data, "train", "DecisionTreeClassifier X_train y_train --id tree --no-save -q random_state=0")
    table, cap = run(classification_data, "models", "")
    assert isinstance(table, RegistryTable)
    html = cap.outputs[0].data["text/html"]
    assert ">nb</td>" in html and ">tree</td>" in html
    assert '<span class="jms-badge jms-status-saved">saved</span>' in html
    assert "2 model versions" in cap.outputs[0].data["text/plain"]
    assert list(table.frame()["model_id"]) == ["tree", "nb"]  # newest first


def test_models_shows_the_registry_browser_in_a_widget_kernel(classification_data, run, monkeypatch):
    from jupyter_modelservice.notebook import magics
    from jupyter_modelservice.widgets import RegistryBrowser

    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    run(classification_data, "train", "DecisionTreeClassifier X_train y_train --id tree -q random_state=0")
    monkeypatch.setattr(magics, "in_widget_kernel", lambda shell: True)
    browser, _ = run(classification_data, "models", "--search tree -q")
    assert isinstance(browser, RegistryBrowser)
    assert browser.namespace is classification_data.user_ns
    assert [f"{r['model_id']}:{r['version']}" for r in browser.rows_] == ["tree:1"]


def test_models_filters(classification_data, run):
    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    run(classification_data, "train", "DecisionTreeClassifier X_train y_train --id tree -q random_state=0")
    _magics(classification_data).service.update_model_metadata("tree", {"status": "production"})
    table, _ = run(classification_data, "models", "--status production -q")
    assert [r["model_id"] for r in table.rows] == ["tree"]
    table, _ = run(classification_data, "models", "--search Gaussian -q")
    assert [r["model_id"] for r in table.rows] == ["nb"]
    assert "search 'Gaussian'" in table.to_text()


def test_ms_config_shows_and_changes_the_registry(classification_data, run, tmp_path):
    config, cap = run(classification_data, "ms_config", "")
    assert isinstance(config, ServiceConfig)
    assert config.data["models_directory"] == "models"  # inside the working directory: relative
    assert str(tmp_path) not in cap.outputs[0].data["text/html"] + config.to_text()
    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    before = _magics(classification_data).service

    config, _ = run(classification_data, "ms_config", "--dir other -q")
    service = _magics(classification_data).service
    assert service is not before
    assert os.fspath(service.models_directory) == str(tmp_path / "other")
    outside, _ = run(classification_data, "ms_config", f"--dir {tmp_path.parent / 'elsewhere'} -q")
    assert outside.data["models_directory"] == str(tmp_path.parent / "elsewhere")  # outside: absolute
    table, _ = run(classification_data, "models", "-q")
    assert table.rows == []  # a different, empty registry

    run(classification_data, "ms_config", "--dir models -q")  # back: the model is read from disk
    result, _ = run(classification_data, "evaluate", "nb X_test y_test -q")
    assert result.ref == "nb:1"


def test_ms_config_keeps_the_old_settings_when_the_new_ones_fail(shell, run, monkeypatch, tmp_path):
    monkeypatch.delenv("MODELSERVICE_DB_URL", raising=False)
    with pytest.raises(UsageError, match="db_url"):
        run(shell, "ms_config", "--db postgresql")
    assert _magics(shell).settings["db_type"] == "sqlite"
    config, _ = run(shell, "ms_config", "-q")
    assert config.data["db_type"] == "sqlite"


def test_ms_config_db_url(shell, run, tmp_path):
    url = f"sqlite:///{tmp_path}/elsewhere.db"
    config, _ = run(shell, "ms_config", f"--db-url {url} -q")
    assert config.data["db_url"] == url
    assert (tmp_path / "elsewhere.db").is_file()



@pytest.fixture
def lookalikes(classification_data, run):
    """``nb`` (2 versions) and ids or classes that a text search for "nb" would also match."""
    for line in ("GaussianNB X_train y_train --id nb -q",
                 "GaussianNB X_train y_train --id nb -q var_smoothing=1e-3",
                 "GaussianNB X_train y_train --id nb_big -q",
                 "GaussianNB X_train y_train --id other -q",
                 "DecisionTreeClassifier X_train y_train --id cnb -q random_state=0"):
        run(classification_data, "train", line)
    return classification_data


def test_models_id_lists_only_that_ids_versions(lookalikes, run):
    table, cap = run(lookalikes, "models", "--id nb")
    assert [(r["model_id"], r["version"]) for r in table.rows] == [("nb", 2), ("nb", 1)]
    assert list(table.frame()["model_id"]) == ["nb", "nb"]
    assert "2 model versions" in cap.outputs[0].data["text/plain"] and "id 'nb'" in table.to_text()


def test_models_id_in_the_registry_browser_lists_only_that_ids_versions(lookalikes, run, monkeypatch):
    from jupyter_modelservice.notebook import magics
    from jupyter_modelservice.widgets import RegistryBrowser

    monkeypatch.setattr(magics, "in_widget_kernel", lambda shell: True)
    browser, _ = run(lookalikes, "models", "--id nb -q")
    assert isinstance(browser, RegistryBrowser)
    assert [f"{r['model_id']}:{r['version']}" for r in browser.rows_] == ["nb:2", "nb:1"]
    assert browser.total_ == 2
    browser.search.value = "2"  # a search narrows within the id, never widens past it
    assert browser.rows_ == [] and browser.total_ == 0
    browser.search.value = ""
    browser.status_filter.value = "saved"
    assert [f"{r['model_id']}:{r['version']}" for r in browser.rows_] == ["nb:2", "nb:1"]


def test_models_id_refuses_an_invalid_id(lookalikes, run, monkeypatch):
    from jupyter_modelservice.notebook import magics

    with pytest.raises(UsageError, match="model_id"):
        run(lookalikes, "models", "--id ../nb -q")
    monkeypatch.setattr(magics, "in_widget_kernel", lambda shell: True)
    with pytest.raises(UsageError, match="model_id"):
        run(lookalikes, "models", "--id ../nb -q")


def test_models_where_filters_with_the_query_language(classification_data, run):
    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    run(classification_data, "train", "DecisionTreeClassifier X_train y_train --id tree -q random_state=0 max_depth=1")
    _magics(classification_data).service.update_model_metadata("tree", {"tags": {"team": "vision"}})
    table, _ = run(classification_data, "models", "--where \"tags.team == 'vision'\" -q")
    assert list(table.frame()["model_id"]) == ["tree"]
    assert "where \"tags.team == 'vision'\"" in table.to_text()
    with pytest.raises(UsageError, match="unknown column 'team'"):
        run(classification_data, "models", "--where \"team == 'vision'\" -q")


def test_promote_with_evidence_then_roll_back(classification_data, run):
    run(classification_data, "train", "DummyClassifier X_train y_train --id m -q")
    run(classification_data, "train", "RandomForestClassifier X_train y_train --id m -q n_estimators=20 random_state=0")
    table, _ = run(classification_data, "promote", "m:1 -q")
    assert "m:1 in production" in table.to_text()
    table, _ = run(classification_data, "promote", "m:2 X_test y_test --require-better -q")
    text = table.to_text()
    assert "m:2 in production (accuracy" in text and "of m:1, exact McNemar p = " in text
    with pytest.raises(UsageError, match="Not promoted: .*m:1 was not promoted"):
        run(classification_data, "promote", "m:1 X_test y_test --require-better -q")
    table, _ = run(classification_data, "rollback", "m -q")
    assert "rolled back: m:1 in production again" in table.to_text()
    with pytest.raises(UsageError, match="Not rolled back"):
        run(classification_data, "rollback", "m -q")
    table, _ = run(classification_data, "models", "--id m --as-of 2000-01-01 -q")
    assert table.rows == []

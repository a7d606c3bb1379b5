"""One registry for the magics, the Python API and the panels of a notebook.

A notebook that only used the magics has no ``service`` variable: ``%ms_config -o service`` hands
over the magics' own service, and the panels built without a service use it too.
"""

from __future__ import annotations

import pytest


def _magics(shell):
    return shell.magics_manager.registry["ModelServiceMagics"]


def test_ms_config_o_hands_the_magics_service_to_the_notebook(classification_data, run, tmp_path):
    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    config, cap = run(classification_data, "ms_config", "-o service")
    service = classification_data.user_ns["service"]
    assert service is _magics(classification_data).service
    assert "Model registry" in cap.outputs[0].data["text/plain"]  # the settings are still shown
    assert [r["model_id"] for r in service.list_models()] == ["nb"]
    run(classification_data, "ms_config", f"--dir {tmp_path / 'other'} -o service -q")
    assert classification_data.user_ns["service"] is _magics(classification_data).service
    assert classification_data.user_ns["service"].list_models() == []


def test_panels_without_a_service_use_the_magics_registry(classification_data, run, tmp_path, monkeypatch):
    from jupyter_modelservice.widgets import ComparisonPanel, RegistryBrowser

    shell = classification_data
    run(shell, "ms_config", f"--dir {tmp_path / 'elsewhere'} -q")  # not ./models: the default would miss it
    run(shell, "train", "GaussianNB X_train y_train --id nb -q")
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    browser = RegistryBrowser()
    assert browser.service is _magics(shell).service
    assert [value for _, value in browser.table.options] == ["nb:1"]
    panel = ComparisonPanel(X_test=shell.user_ns["X_test"], y_test=shell.user_ns["y_test"])
    assert panel.service is _magics(shell).service
    panel.models.value = ("nb:1",)
    assert panel.result_ is not None and panel.result_.best == "nb:1"
    assert not (tmp_path / "models").exists()  # nothing opened a second registry in ./models


def test_without_the_extension_a_panel_opens_models_in_the_working_folder(tmp_path, monkeypatch):
    from jupyter_modelservice.widgets import RegistryBrowser

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    browser = RegistryBrowser()
    try:
        assert (tmp_path / "models" / "registry.db").is_file()
    finally:
        browser.service.close()


@pytest.mark.parametrize("magic", ["models"])
def test_models_in_a_kernel_leaves_the_panel_and_a_saved_view(classification_data, run, monkeypatch, magic):
    from jupyter_modelservice.notebook import magics

    run(classification_data, "train", "GaussianNB X_train y_train --id nb -q")
    monkeypatch.setattr(magics, "in_widget_kernel", lambda shell: True)
    browser, cap = run(classification_data, magic, "")
    widget, saved = cap.outputs
    assert "application/vnd.jupyter.widget-view+json" in widget.data
    assert widget.data["text/plain"].startswith("Registry browser (interactive")
    assert "application/vnd.jupyter.widget-view+json" not in saved.data
    html = saved.data["text/html"]
    assert 'class="jms-snapshot"' in html and ">nb</td>" in html and "saved view of the registry browser" in html
    assert ":has(.jms-panel)" in html  # hidden next to the live panel
    assert saved.data["text/plain"].startswith("Registry browser: page 1 of 1 (1 version)")
